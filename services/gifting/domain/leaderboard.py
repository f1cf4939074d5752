"""Per-stream totals and top-gifter leaderboards: pure folds over GiftSent events.

Only delivered gifts (GiftSent) count; priced, rejected or failed gifts never do. Ranking is
by points (which campaigns boost), then by coins, then by sender_id, so two gifters never share
a place and every replay ranks them the same way. The service stores totals and boards as rows
(services/gifting/projection.py): its store and its rebuild add what `totals_added` and
`score_added` say to the rows `boards_of` names, and its API ranks with RANK_ORDER_SQL.

Folding the same GiftSent twice counts it twice: exactly-once is the runtime's job (tracking
records and unique event ids), as for every other projection.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from shared.contract.events.gifting import GiftSent


def units(sent: GiftSent) -> int:
    """Gifts in one send; events written before `quantity` existed count as one."""
    return sent.quantity if sent.quantity is not None else 1


@dataclass(frozen=True, slots=True)
class StreamTotals:
    stream_id: str
    sends: int = 0
    """GiftSent events: a combo of 99 roses is one send..."""
    gifts: int = 0
    """...and 99 gifts."""
    coins: int = 0
    points: int = 0
    senders: frozenset[str] = frozenset()

    @property
    def distinct_senders(self) -> int:
        return len(self.senders)


def totals_added(sent: GiftSent) -> tuple[int, int, int, int]:
    """What one delivered gift adds to its stream's totals: (sends, gifts, coins, points)."""
    return (1, units(sent), sent.coins, sent.points)


def add_to_totals(totals: StreamTotals, sent: GiftSent) -> StreamTotals:
    """Add one delivered gift; a gift to another stream leaves the totals as they are."""
    if sent.stream_id != totals.stream_id:
        return totals
    sends, gifts, coins, points = totals_added(sent)
    return replace(totals, sends=totals.sends + sends, gifts=totals.gifts + gifts,
                   coins=totals.coins + coins, points=totals.points + points,
                   senders=totals.senders | {sent.sender_id})


class BoardScope(StrEnum):
    stream = "stream"
    creator = "creator"


@dataclass(frozen=True, slots=True)
class GifterScore:
    sender_id: str
    points: int = 0
    coins: int = 0
    gifts: int = 0


def rank_key(score: GifterScore) -> tuple[int, int, str]:
    """Sorts best first: more points, then more coins, then the smaller sender_id."""
    return (-score.points, -score.coins, score.sender_id)


RANK_ORDER_SQL = "points DESC, coins DESC, sender_id"
"""rank_key as an ORDER BY over stored scores."""


_STREAM, _CREATOR = BoardScope.stream.value, BoardScope.creator.value


def boards_of(sent: GiftSent) -> tuple[tuple[str, str], tuple[str, str]]:
    """The boards a delivered gift counts on, as (BoardScope value, scope id): its stream's and
    its creator's (across all the creator's streams)."""
    return ((_STREAM, sent.stream_id), (_CREATOR, sent.creator_id))


def score_added(sent: GiftSent) -> tuple[int, int, int]:
    """What one delivered gift adds to its sender's score on each of its boards: (points,
    coins, gifts)."""
    return (sent.points, sent.coins, units(sent))


@dataclass(frozen=True, slots=True)
class Leaderboard:
    """Top gifters of one stream or of one creator (across all their streams)."""

    scope: BoardScope
    scope_id: str
    scores: Mapping[str, GifterScore] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def for_stream(cls, stream_id: str) -> Leaderboard:
        return cls(BoardScope.stream, stream_id)

    @classmethod
    def for_creator(cls, creator_id: str) -> Leaderboard:
        return cls(BoardScope.creator, creator_id)

    def covers(self, sent: GiftSent) -> bool:
        return (self.scope, self.scope_id) in boards_of(sent)


def apply_sent(board: Leaderboard, sent: GiftSent) -> Leaderboard:
    """Credit the sender; a gift outside the board's stream or creator leaves it unchanged, so
    one pass over the log can feed many boards."""
    if not board.covers(sent):
        return board
    old = board.scores.get(sent.sender_id, GifterScore(sent.sender_id))
    points, coins, gifts = score_added(sent)
    new = replace(old, points=old.points + points, coins=old.coins + coins,
                  gifts=old.gifts + gifts)
    return replace(board, scores=MappingProxyType({**board.scores, sent.sender_id: new}))


def top(board: Leaderboard, n: int) -> tuple[GifterScore, ...]:
    """The n best gifters, best first; position i is rank i + 1."""
    assert n >= 0, n
    return tuple(heapq.nsmallest(n, board.scores.values(), key=rank_key))
