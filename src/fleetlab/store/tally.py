"""A tally of stored passwords that do not open: how many, the commonest reasons, the first rows with theirs.

`fleetlab check`, `decrypt` and `key rotate` read every stored value through one, so a value of any
shape (deeply nested JSON, megabytes, wrong types) becomes a per-row reason, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import SecretError, shown
from .crypto import Keyring, Opened

KEEP_FAILED = 100  # rows a Tally keeps with their reason


@dataclass
class Tally:
    """Stored passwords that did not open: how many, why how often, and the first rows with their reason."""

    total: int = 0
    failed: int = 0
    rows: list[tuple[str, str]] = field(default_factory=list)  # (gateway, reason), the first KEEP_FAILED
    reasons: dict[str, int] = field(default_factory=dict)

    def open(self, keyring: Keyring, token: str, row_id: str | None, gateway_id: str | None) -> Opened | None:
        """keyring.open, counted: None (and the reason noted) when the value does not open."""
        self.total += 1
        try:
            return keyring.open(token, row_id)
        except SecretError as exc:
            self.failed += 1
            reason = str(exc).rstrip(".")
            self.reasons[reason] = self.reasons.get(reason, 0) + 1
            if len(self.rows) < KEEP_FAILED:
                self.rows.append((shown(gateway_id, 40) if gateway_id is not None else f"row {row_id}", reason))
            return None

    def headline(self, examples: int = 3) -> str:
        """'2 of 6 passwords do not decrypt (GW-A, GW-B)'."""
        names = ", ".join(g for g, _ in self.rows[:examples])
        if self.failed > examples:
            names += f" and {self.failed - examples:,} more"
        return f"{self.failed:,} of {self.total:,} passwords do not decrypt ({names})"

    def per_row(self, limit: int) -> list[str]:
        """'gateway GW-A: <reason>' for the first `limit` rows that did not open; then a line for the
        others, with the commonest reasons counted over all of them."""
        lines = [f"gateway {g}: {r}" for g, r in self.rows[:limit]]
        if self.failed > len(lines):
            common = sorted(self.reasons.items(), key=lambda item: -item[1])
            why = "; ".join(f"{n:,}× {r}" for r, n in common[:3])
            others = f"; {len(common) - 3:,} other reason(s)" if len(common) > 3 else ""
            lines.append(f"… and {self.failed - len(lines):,} more; over all {self.failed:,}: {why}{others}")
        return lines
