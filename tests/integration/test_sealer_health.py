"""The sealer as a process answers /livez and /readyz as compose's health check asks them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from ops.services import free_port
from shared.contract.topics import ALL_TOPICS
from shared.runtime.kafka_admin import ensure_topics
from tests.infrastructure import ROOT
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def _get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


async def test_the_sealer_is_ready_once_it_follows_and_alive_meanwhile(infra, suffix):
    port = free_port()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
           "COINLOG_TOPIC_PREFIX": f"it.{suffix}.", "COINLOG_HTTP_PORT": str(port),
           "COINLOG_LOG_LEVEL": "WARNING"}
    await ensure_topics(infra.kafka_bootstrap_servers, ALL_TOPICS, prefix=f"it.{suffix}.")
    sealer = subprocess.Popen([sys.executable, "-m", "shared.sealing"], cwd=ROOT, env=env)
    try:
        status, body = await wait_until(lambda: _get(port, "/readyz"),
                                        ready=lambda found: found[0] == 200,
                                        not_yet=(OSError,), describe="the sealer ready")
        assert body["status"] == "ready"
        assert body["checks"][0]["detail"].startswith("following")
        status, body = _get(port, "/livez")
        assert (status, body["status"]) == (200, "alive")
        sealer.send_signal(signal.SIGTERM)
        assert sealer.wait(timeout=15) == 0
    finally:
        if sealer.poll() is None:
            sealer.kill()
            sealer.wait()
