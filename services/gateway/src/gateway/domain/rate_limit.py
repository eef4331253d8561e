"""A fixed-window counter per key: cheap, and enough to stop guessing and floods at one process.

Each replica counts on its own, so N replicas allow up to N times the limit; the login lockout
(stored) is the limit that holds across replicas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MAX_KEYS = 100_000


@dataclass
class RateLimiter:
    limit: int
    window_seconds: float
    _windows: dict[str, tuple[int, int]] = field(default_factory=dict)

    def hit(self, key: str, now: float) -> float:
        """Count one request; returns 0 when allowed, else the seconds to wait."""
        window = int(now // self.window_seconds)
        current, count = self._windows.get(key, (window, 0))
        if current != window:
            count = 0
        if count >= self.limit:
            return max(1.0, math.ceil((window + 1) * self.window_seconds - now))
        if len(self._windows) >= MAX_KEYS:
            self._windows.clear()  # bounded memory under a flood of distinct keys
        self._windows[key] = (window, count + 1)
        return 0.0

    def reset(self) -> None:
        """Forget every count (an operator lifting a block; tests)."""
        self._windows.clear()


class LoginAttempts(RateLimiter):
    """Login attempts per client address."""


class IngestRequests(RateLimiter):
    """Terminals' requests per ingest key."""
