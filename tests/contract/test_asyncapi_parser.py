"""The published AsyncAPI document passes the official parser (@asyncapi/parser, Node.js), which
checks it against the AsyncAPI 3 schema (bindings included), resolves its references and checks
that every operation's messages are its channel's. (Its AsyncAPI 3 rules do not check message
examples; tests/unit/test_asyncapi_document.py validates them against the schemas.)

The parser is pinned by tests/contract/asyncapi-parser/package-lock.json and installed there
with `npm ci` on first use. Without Node.js or the npm registry the test fails: the document
would otherwise go unchecked without anyone noticing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.contract.asyncapi import document, document_dict

PARSER = Path(__file__).parent / "asyncapi-parser"
ERROR = 0
"""Severity of a diagnostic that makes a document invalid (1 warning, 2 info, 3 hint)."""


def _run(command: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=PARSER, capture_output=True, text=True, check=False,
                          timeout=timeout_s)


@pytest.fixture(scope="module")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("Node.js and npm are needed to check docs/asyncapi.yaml with the AsyncAPI "
                    "parser; install them (node 18 or later)", pytrace=False)
    if not (PARSER / "node_modules" / "@asyncapi" / "parser").is_dir():
        # No install scripts: the parser needs none, and one dependency's only reports usage.
        # Within the test's own timeout (300 s), so a hung registry fails with this message.
        try:
            installed = _run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], 240)
        except subprocess.TimeoutExpired:
            pytest.fail(f"npm ci in {PARSER} took over 240 s (is the npm registry reachable?)",
                        pytrace=False)
        if installed.returncode != 0:
            pytest.fail(f"npm ci in {PARSER} failed (is the npm registry reachable?):\n"
                        f"{installed.stdout}{installed.stderr}", pytrace=False)
    return node


def _verdict(node: str, text: str, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "asyncapi.yaml"
    path.write_text(text)
    parsed = _run([node, "validate.mjs", str(path)], 120)
    assert parsed.returncode == 0, parsed.stderr
    return json.loads(parsed.stdout)


def _errors(verdict: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, d['path']))}: {d['code']}: {d['message']}"
            for d in verdict["diagnostics"] if d["severity"] == ERROR]


def test_the_document_is_valid_asyncapi(node, tmp_path):
    verdict = _verdict(node, document(), tmp_path)
    assert not _errors(verdict)
    assert verdict["parsed"]


def _send_as_publish(spec: dict[str, Any]) -> None:
    spec["operations"]["wallet.ledger.send"]["action"] = "publish"


def _foreign_message(spec: dict[str, Any]) -> None:
    spec["operations"]["wallet.ledger.send"]["messages"].append(
        {"$ref": "#/channels/gifting.gifts/messages/GiftSent"})


def _partitions_as_text(spec: dict[str, Any]) -> None:
    spec["channels"]["wallet.ledger"]["bindings"]["kafka"]["partitions"] = "six"


@pytest.mark.parametrize("spoil", [_send_as_publish, _foreign_message,
                                   _partitions_as_text])
def test_the_parser_rejects_a_spoiled_document(node, tmp_path, spoil):
    """The check has teeth: each of these mistakes makes the document invalid."""
    spec = document_dict()
    spoil(spec)
    verdict = _verdict(node, yaml.safe_dump(spec, sort_keys=False), tmp_path)
    assert _errors(verdict)
