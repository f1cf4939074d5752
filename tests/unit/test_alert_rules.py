"""The alert rules, checked and unit-tested by Prometheus's own promtool.

promtool comes with Debian's prometheus package; when it is missing, deploy/local/prometheus
installs it the way deploy/local installs everything else (apt-get), so this test never skips.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus"
SCRIPT = ROOT / "deploy" / "local" / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> list[str]:
    if shutil.which("promtool"):
        return ["promtool"]
    # Installs prometheus (and promtool) once, then runs promtool.
    return [str(SCRIPT), "promtool"]


def run(promtool: list[str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*promtool, *arguments], cwd=RULES, capture_output=True, text=True,
                          timeout=600, check=False)


def test_rules_are_valid(promtool):
    checked = run(promtool, "check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_every_alert_passes_its_unit_tests(promtool):
    tested = run(promtool, "test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_has_a_unit_test():
    import yaml

    rules = yaml.safe_load((RULES / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load((RULES / "alerts.test.yml").read_text())
    # An alert is tested only if some case expects it to fire.
    fired = {case["alertname"] for test in tests["tests"]
             for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    assert alerts - fired == set(), f"alerts never seen firing in a test: {alerts - fired}"


def test_the_compose_configuration_is_valid(promtool, tmp_path):
    import yaml

    config = yaml.safe_load((RULES / "prometheus.yml").read_text())
    # Inside the container the rules are mounted at /etc/prometheus; here they are beside it.
    config["rule_files"] = [str(RULES / "alerts.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = run(promtool, "check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
