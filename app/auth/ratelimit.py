"""Per-API-key rate limiting: a token bucket per key, held in this process's memory.

Each key may send `per_minute` requests in a burst, and the bucket refills at `per_minute` requests a minute. The
buckets live in one process: with N API processes a key can reach N times the rate (a shared store such as the
database or Redis would be needed for an exact limit across processes). Only authenticated keys get a bucket, so
unknown keys cannot fill the memory; nothing of the secret is kept, only the key's id.
"""

import math
import threading
import time
import uuid
from collections.abc import Callable

from app.errors import TooManyRequests


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60  # tokens per second
        self._clock = clock
        self._buckets: dict[uuid.UUID, tuple[float, float]] = {}  # key id -> (tokens left, when counted)
        self._lock = threading.Lock()  # sync endpoints run in a thread pool

    def take(self, key_id: uuid.UUID) -> None:
        """Counts one request of this key, or raises TooManyRequests (with Retry-After) when its bucket is empty."""
        if self.per_minute <= 0:
            return
        with self._lock:
            now = self._clock()
            tokens, since = self._buckets.get(key_id, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - since) * self._rate)
            if tokens < 1:
                self._buckets[key_id] = (tokens, now)
                retry_after = max(1, math.ceil((1 - tokens) / self._rate))
                raise TooManyRequests(
                    f"This API key sent more than {self.per_minute} requests a minute; retry in {retry_after} s.",
                    retry_after=retry_after,
                )
            self._buckets[key_id] = (tokens - 1, now)
