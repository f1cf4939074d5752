"""A named check's outcome as the demo and the fault suite print it: passed or not, and one line
of detail a person can act on."""

from __future__ import annotations

from dataclasses import dataclass

from ops.audit.model import Invariant


@dataclass(frozen=True)
class Verdict:
    name: str
    passed: bool
    detail: str

    @classmethod
    def of(cls, invariant: Invariant) -> Verdict:
        """An audit invariant: what it checks and how often, or where it first failed."""
        if invariant.passed:
            return cls(invariant.name, True,
                       f"{invariant.description} ({invariant.checked:,} checks)")
        detail = f"{invariant.failed:,} of {invariant.checked:,} checks failed"
        if invariant.examples:
            first = invariant.examples[0]
            detail += f", first at {first.location or '(totals)'}: {first.message}"
        return cls(invariant.name, False, detail)
