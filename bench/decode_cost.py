"""The cost of decoding one record, the work every consumer and every replay does per record.

    python -m bench.decode_cost
"""

from __future__ import annotations

import timeit
import uuid
from datetime import UTC, datetime

from shared.contract.codec import decode, encode
from shared.contract.events.streams import GiftRequested
from shared.contract.topics import GIFT_REQUESTS

ROUNDS = 50_000


def main() -> None:
    raw = encode(GiftRequested(event_id=uuid.uuid4(), occurred_at=datetime.now(UTC),
                               request_id="req-1", stream_id="stream-1", sender_id="viewer-1",
                               gift_id="rose", quantity=3))
    for digest in (True, False):
        best = min(timeit.repeat(lambda digest=digest: decode(GIFT_REQUESTS, raw, digest=digest),
                                 number=ROUNDS, repeat=5))
        print(f"decode GiftRequested digest={digest}: {best / ROUNDS * 1e6:.2f} us")


if __name__ == "__main__":
    main()
