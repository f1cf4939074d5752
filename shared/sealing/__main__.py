"""python -m shared.sealing: run the sealer until SIGINT/SIGTERM.

Settings from the environment (KAFKA_BOOTSTRAP_SERVERS, COINLOG_TOPIC_PREFIX,
COINLOG_LOG_LEVEL; COINLOG_HTTP_HOST and COINLOG_HTTP_PORT for /livez, /readyz and /metrics,
-1 for no HTTP, its address announced under COINLOG_LOCAL_DIR); how often to seal from the
command line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from shared.runtime import logs
from shared.sealing.health import health_app
from shared.sealing.metrics import SealerMetricsServer
from shared.sealing.sealer import start_sealer
from shared.settings import Settings


async def main(every_records: int, every_s: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    settings = Settings()
    sealer, task = start_sealer(settings, seal_every_records=every_records,
                                seal_every_s=every_s)
    served = SealerMetricsServer(sealer, settings, health_app(sealer, task))
    await served.start()
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await served.stop()
    logging.getLogger("shared.sealing").info(
        "sealer stopped: %d records chained, %d seals published", sealer.records_chained,
        sealer.seals_published)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m shared.sealing", description=__doc__)
    parser.add_argument("--every-records", type=int, default=1000,
                        help="seal a partition every N records (default 1000)")
    parser.add_argument("--every-seconds", type=float, default=5.0,
                        help="or T seconds after its first unsealed record (default 5)")
    arguments = parser.parse_args()
    settings = Settings()
    logs.configure(settings.log_level, log_format=settings.log_format, service="sealer")
    asyncio.run(main(arguments.every_records, arguments.every_seconds))
