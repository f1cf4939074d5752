"""Pure decisions of the gifting service: no database, no broker, no clock.

Time and ids come only from input events; every function returns values and raises nothing
for business outcomes (an AssertionError means a caller paired the wrong state and event; a
history gifting could not have decided raises shared.consistency.InconsistentHistory).

    state        GiftingState: what one batch of decisions sees (GiftingView: what they read)
    catalog      CatalogGift, Campaign, Catalog; evolve_gift/_campaign/_catalog (versions)
    streams      Stream, evolve_stream (live in [started_at, ended_at))
    pricing      decide_gift: check order, price, campaign choice, points rounding
    outcome      decide_outcome: the wallet's answer -> GiftSent | GiftFailed
    evolve       evolve, fold (facts and gifting's own decisions), GiftingDraft
    decide       decide: any input event -> outputs; requests decided before decide nothing
    leaderboard  per-stream totals and top gifters per stream and per creator
"""

from services.gifting.domain.catalog import (
    Campaign,
    CampaignChange,
    Catalog,
    CatalogEvent,
    CatalogGift,
    GiftChange,
    build_catalog,
    evolve_campaign,
    evolve_catalog,
    evolve_gift,
)
from services.gifting.domain.decide import decide
from services.gifting.domain.evolve import GiftingDraft, evolve, fold
from services.gifting.domain.leaderboard import (
    BoardScope,
    GifterScore,
    Leaderboard,
    StreamTotals,
    add_to_totals,
    apply_sent,
    rank_key,
    top,
)
from services.gifting.domain.outcome import decide_outcome
from services.gifting.domain.pricing import NO_BOOST, best_campaign, decide_gift, points_for
from services.gifting.domain.state import GiftingState, GiftingView
from services.gifting.domain.streams import Stream, StreamEvent, evolve_stream

__all__ = [
    "NO_BOOST", "BoardScope", "Campaign", "CampaignChange", "Catalog", "CatalogEvent",
    "CatalogGift", "GiftChange", "GifterScore", "GiftingDraft", "GiftingState", "GiftingView",
    "Leaderboard", "Stream", "StreamEvent", "StreamTotals",
    "add_to_totals", "apply_sent", "best_campaign", "build_catalog", "decide", "decide_gift",
    "decide_outcome", "evolve", "evolve_campaign", "evolve_catalog", "evolve_gift",
    "evolve_stream", "fold", "points_for", "rank_key", "top",
]
