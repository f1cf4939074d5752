"""The publishing guide documents every dead-letter reason a publisher can meet, and has an
example for every topic coinlog reads, each one an event the consumers accept as it stands
(tests/e2e/test_publishing_guide_examples.py checks what they answer)."""

import re

from shared.contract.codec import InvalidEvent, decode
from shared.contract.events.deadletter import DeadLetterReason
from shared.contract.topics import ALL_TOPICS, CONSUMED_BY, Topic
from tests.guide_examples import GUIDE, guide_examples


def documented_reasons() -> set[str]:
    section = GUIDE.read_text().split("## Dead letters", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))


def test_every_dead_letter_reason_is_documented():
    missing = {reason.value for reason in DeadLetterReason} - documented_reasons()
    assert not missing, (
        f"add a row for each to the 'Dead letters' table of docs/publishing.md: {missing}")


def test_guide_documents_no_reason_that_does_not_exist():
    assert documented_reasons() <= {reason.value for reason in DeadLetterReason}


def published_topics() -> set[Topic]:
    """The topics other systems publish and coinlog reads."""
    return {topic for topics in CONSUMED_BY.values() for topic in topics
            if topic.owner not in CONSUMED_BY}


def test_every_published_topic_has_an_example():
    covered = {topic_of_type(example.payload["type"]).name for example in guide_examples()}
    missing = {topic.name for topic in published_topics()} - covered
    assert not missing, f"add an example to docs/publishing.md for: {sorted(missing)}"


def test_every_example_is_accepted_as_it_stands():
    # The same decoding as every consumer's: no unknown field, strict types, the key defaults
    # to the entity field. Published with that key, nothing about it would be dead-lettered.
    for example in guide_examples():
        topic = topic_of_type(example.payload["type"])
        try:
            decoded = decode(topic, example.raw)
        except InvalidEvent as error:
            raise AssertionError(f"{example}: {error}") from None
        # Written as coinlog writes it back: every field given reads as it was spelled.
        assert decoded.event.model_dump(mode="json").items() >= example.payload.items(), example


def test_examples_have_their_own_ids_and_name_real_answers():
    examples = guide_examples()
    assert len({example.event_id for example in examples}) == len(examples)
    answer_topics = {topic.name for topic in ALL_TOPICS if topic.owner in CONSUMED_BY}
    for example in examples:
        assert example.answers, example
        for answer in example.answers:
            if "topic" in answer:
                topic = next(t for t in ALL_TOPICS if t.name == answer["topic"])
                assert topic.name in answer_topics, (example, answer)
                assert answer["type"] in topic.event_types, (example, answer)
            elif "read" in answer:
                assert answer["read"] in CONSUMED_BY and answer["path"].startswith("/")
            else:
                assert set(answer) == {"applied_by"} and answer["applied_by"] in CONSUMED_BY
                assert topic_of_type(example.payload["type"]) in CONSUMED_BY[
                    answer["applied_by"]], (example, answer)


def test_the_guide_says_no_more_is_to_write():
    assert "## Still to write" not in GUIDE.read_text()


def topic_of_type(event_type: str) -> Topic:
    return next(topic for topic in ALL_TOPICS if event_type in topic.event_types)
