"""Replays of the log: rebuild a service's read model into a fresh schema and verify it
against the live one (ops.replay.rebuild), point-in-time balances from periodic snapshots
(ops.replay.pit). `register(app)` adds the commands to a typer app."""

from ops.replay.cli import register

__all__ = ["register"]
