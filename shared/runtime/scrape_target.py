"""Announces a process's /metrics to a local Prometheus by file-based service discovery.

A process that serves HTTP and knows the local stack's folder (COINLOG_LOCAL_DIR) writes one
JSON target file under `<local dir>/prometheus/targets/` when it starts and removes it when it
stops; deploy/local/prometheus reads that folder (file_sd_configs). A process killed outright
leaves its file behind: Prometheus then sees the target down (`up == 0`), which is the truth,
and the next start of the same instance overwrites it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path


def targets_dir(local_dir: str | os.PathLike[str]) -> Path:
    return Path(local_dir) / "prometheus" / "targets"


class ScrapeTarget:
    def __init__(self, local_dir: str | os.PathLike[str], service: str, instance: str):
        self.service = service
        self.instance = instance
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{service}-{instance}")
        self.path = targets_dir(local_dir) / f"{name}.json"

    def announce(self, host: str, port: int) -> None:
        # A wildcard address is not one to scrape; the process answers on loopback too.
        address = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        document = [{"targets": [f"{address}:{port}"],
                     "labels": {"service": self.service, "coinlog_instance": self.instance}}]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: Prometheus never reads half a file.
        partial = self.path.with_suffix(f".json.{os.getpid()}.tmp")
        partial.write_text(json.dumps(document))
        partial.replace(self.path)

    def withdraw(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
