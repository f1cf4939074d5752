"""Live streams and how their lifecycle events change them.

The first start and the first end win: a stream ends once, so a redelivered StreamStarted never
revives an ended stream, and a start seen after its end only fills in the window
[started_at, ended_at) in which the stream was live.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shared.contract.events.streams import StreamEnded, StreamStarted

StreamEvent = StreamStarted | StreamEnded


@dataclass(frozen=True, slots=True)
class Stream:
    stream_id: str
    creator_id: str
    started_at: datetime | None = None
    """None when the end was seen without a start: such a stream was never live to us."""
    ended_at: datetime | None = None

    @property
    def live(self) -> bool:
        return self.started_at is not None and self.ended_at is None

    def live_at(self, at: datetime) -> bool:
        """Live at the given event time: started_at <= at < ended_at. Deciding on the request's
        time, not on whichever lifecycle event happened to be consumed first, keeps a gift
        tapped a moment before the end valid and a re-decision stable."""
        if self.started_at is None or at < self.started_at:
            return False
        return self.ended_at is None or at < self.ended_at


def evolve_stream(stream: Stream | None, event: StreamEvent) -> Stream:
    """Apply one lifecycle event; repeats are harmless (the first start and end times win)."""
    assert stream is None or stream.stream_id == event.stream_id, (stream, event)
    current = stream or Stream(event.stream_id, event.creator_id)
    match event:
        case StreamStarted() if current.started_at is None:
            return replace(current, started_at=event.occurred_at)
        case StreamEnded() if current.ended_at is None:
            return replace(current, ended_at=event.occurred_at)
    return current
