"""The examples of docs/publishing.md, read from the markdown itself so the guide and the tests
cannot drift: every ```json block right after an `<!-- example {...} -->` comment, in document
order, with the answers the comment says coinlog gives.

An answer is one of
- {"topic": T, "type": X, "with": {...}}: an event of type X on coinlog's topic T whose
  correlation_id is the example's event_id, holding at least the fields of `with`;
- {"read": SERVICE, "path": P, "with": {...}}: GET P of the service answers at least `with`
  (lists: each expected item matches some item);
- {"applied_by": SERVICE}: the service consumed the event (it is in its inbox), without an
  event to answer it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "publishing.md"

_EXAMPLE = re.compile(r"^<!-- example (\{[^\n]*\}) -->\n```json\n(.*?)\n```$",
                      flags=re.MULTILINE | re.DOTALL)
_MARKER = re.compile(r"^<!-- example .*-->$", flags=re.MULTILINE)


@dataclass(frozen=True)
class Example:
    payload: dict[str, Any]
    raw: bytes
    """The block's text, published as it stands."""
    answers: list[dict[str, Any]]
    line: int

    @property
    def event_id(self) -> str:
        return str(self.payload["event_id"])

    def __str__(self) -> str:
        return f"docs/publishing.md line {self.line} ({self.payload.get('type')})"


def guide_examples(text: str | None = None) -> list[Example]:
    text = GUIDE.read_text() if text is None else text
    examples = []
    for match in _EXAMPLE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        marker, block = json.loads(match.group(1)), match.group(2)
        examples.append(Example(json.loads(block), block.encode(), marker["answers"], line))
    markers = len(_MARKER.findall(text))
    assert markers == len(examples), (
        f"{markers} example markers but {len(examples)} of them are followed by a json block")
    return examples


def holds(expected: Any, actual: Any) -> bool:
    """`actual` has at least what `expected` names: fields of objects, items of lists."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and holds(value, actual[key]) for key, value in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and all(
            any(holds(item, candidate) for candidate in actual) for item in expected)
    return expected == actual and type(expected) is type(actual)
