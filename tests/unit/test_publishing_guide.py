"""The publishing guide documents every dead-letter reason a publisher can meet."""

import re
from pathlib import Path

from shared.contract.events.deadletter import DeadLetterReason

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "publishing.md"


def documented_reasons() -> set[str]:
    section = GUIDE.read_text().split("## Dead letters", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))


def test_every_dead_letter_reason_is_documented():
    missing = {reason.value for reason in DeadLetterReason} - documented_reasons()
    assert not missing, (
        f"add a row for each to the 'Dead letters' table of docs/publishing.md: {missing}")


def test_guide_documents_no_reason_that_does_not_exist():
    assert documented_reasons() <= {reason.value for reason in DeadLetterReason}
