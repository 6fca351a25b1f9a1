"""Google's daily operations cap, as the sandbox enforces it when installed.

A developer token with Basic access may make 15,000 operations a day (Google Ads API, "Access
levels" and "Rate sheet": developers.google.com/google-ads/api/docs/api-policy/access-levels,
.../api-policy/rate-sheet). Counting follows the rate sheet: one query (Search or SearchStream,
however many rows or batches) is one operation, every operation of a mutate request is one
(``validate_only`` included), and any other request is one. A request that would go past the cap
is refused whole with RESOURCE_EXHAUSTED carrying ``quota_error.RESOURCE_EXHAUSTED`` and a
``retry_delay`` until the window ends — unlike the short-lived RESOURCE_TEMPORARILY_EXHAUSTED,
retrying sooner fails the same way, so a well-behaved client defers until then.

The window is wall-clock time (``window_seconds``, a day by default; tests shorten it), per
developer token. Install with ``DailyQuota(...).install(server.state)``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from spectra.sandbox.errors import AdsFault, ErrorDetail

BASIC_ACCESS_OPERATIONS_PER_DAY = 15_000


@dataclass
class DailyQuota:
    """Operations per developer token per window; refuses what would exceed ``limit``."""

    limit: int = BASIC_ACCESS_OPERATIONS_PER_DAY
    window_seconds: float = 86_400.0
    clock: Callable[[], float] = time.time
    used: dict[tuple[str, int], int] = field(default_factory=dict)
    refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.limit < 0 or self.window_seconds <= 0:
            raise ValueError("the quota needs limit >= 0 and window_seconds > 0")

    def install(self, state: Any) -> DailyQuota:
        """Count every RPC of the server (mutates count their operations, see :meth:`charge`)."""
        state.quota = self
        state.before_call.append(self.before_call)
        return self

    def before_call(self, method: str, context: grpc.ServicerContext) -> None:
        if _is_mutate(method):
            return  # charged per operation by the mutate path, once it knows how many
        self.charge(context, 1)

    def charge(self, context: grpc.ServicerContext, operations: int) -> None:
        """Spend ``operations`` of the caller's window, or refuse the whole request."""
        token = str(dict(context.invocation_metadata()).get("developer-token", ""))
        now = self.clock()
        window = int(now // self.window_seconds)
        with self._lock:
            spent = self.used.get((token, window), 0)
            if spent + operations > self.limit:
                self.refused += 1
                retry = (window + 1) * self.window_seconds - now
                raise AdsFault(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    [
                        ErrorDetail(
                            "quota_error",
                            "RESOURCE_EXHAUSTED",
                            f"Too many requests: the developer token used {spent} of its "
                            f"{self.limit} operations for the day; retry in {retry:.0f} seconds.",
                        )
                    ],
                    retry_delay_seconds=retry,
                )
            self.used[(token, window)] = spent + operations

    def remaining(self, developer_token: str) -> int:
        window = int(self.clock() // self.window_seconds)
        with self._lock:
            return self.limit - self.used.get((developer_token, window), 0)


def _is_mutate(method: str) -> bool:
    return method.rsplit("/", 1)[-1].startswith("Mutate")


__all__ = ["BASIC_ACCESS_OPERATIONS_PER_DAY", "DailyQuota"]
