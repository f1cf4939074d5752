"""The command line's shape: --version, choices, --json and --output, piped output, tokens."""

from __future__ import annotations

import io

import jwt
from rich.console import Console
from typer.testing import CliRunner

from ops.cli import app
from ops.progress import progress
from shared.contract.topics import ALL_TOPICS
from shared.runtime.auth import CREATOR_SCOPE, OPS_SCOPE, TokenVerifier

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("coinlog ")


def test_replay_takes_only_a_known_service():
    result = runner.invoke(app, ["replay", "walet"])
    assert result.exit_code == 2
    assert "wallet|gifting|payout" in result.output


def test_topics_list_piped_is_one_whole_line_per_topic():
    result = runner.invoke(app, ["topics", "list"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [topic.name for topic in ALL_TOPICS]
    assert all(len(line.split("\t")) == 5 for line in lines)


def test_json_is_a_flag_and_files_are_output_everywhere():
    for command in (["audit"], ["explain"], ["statement", "viewer"], ["statement", "creator"],
                    ["seed"]):
        text = runner.invoke(app, [*command, "--help"], terminal_width=200).stdout
        assert "--json " in text and "--json FILE" not in text.replace("  ", " "), command
    for command in (["audit"], ["statement", "viewer"], ["chaos"], ["seed"]):
        text = runner.invoke(app, [*command, "--help"], terminal_width=200).stdout
        assert "--output" in text, command


def test_progress_is_off_when_stderr_is_not_a_terminal():
    out = io.StringIO()
    with progress("reading", total=10, console=Console(file=out)) as ticker:
        ticker.expect(5)
        ticker.advance(15)
        ticker.describe("done")
    assert out.getvalue() == ""


def test_token_signs_with_the_local_key(tmp_path, monkeypatch):
    monkeypatch.setenv("COINLOG_LOCAL_DIR", str(tmp_path))
    result = runner.invoke(app, ["token", "creator-7", "--scope", "creator", "--scope", "ops",
                                 "--ttl", "60"])
    assert result.exit_code == 0, result.output
    from ops.tokens import public_key_path

    verifier = TokenVerifier(public_key_path().read_bytes(), issuer="coinlog",
                             audience="coinlog")
    caller = verifier.caller(result.stdout.strip())
    assert (caller.subject, caller.scopes) == ("creator-7",
                                               frozenset({CREATOR_SCOPE, OPS_SCOPE}))
    # The same key next time: tokens minted earlier stay valid for running services.
    again = runner.invoke(app, ["token", "x"]).stdout.strip()
    assert jwt.decode(again, options={"verify_signature": False})["sub"] == "x"
    verifier.caller(again)
