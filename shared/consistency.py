"""The one way every domain says "the log does not add up".

A fold of an entity's own events meets an event that cannot follow its state (a second lot
with one id, a spend of coins a lot does not hold, a balance that differs from the one the
event records, a clawback never earned): the log was not written by the service's decisions.
Every domain raises InconsistentHistory then, never `assert`, so the check holds under
`python -O` too, and a replay marks the entity broken instead of guessing.
"""

from __future__ import annotations


class InconsistentHistory(ValueError):
    """The event cannot follow the state: the log was not written by these decisions."""
