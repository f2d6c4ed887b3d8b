"""How often receipts may be tried: per client and for the whole platform.

A client is known only by a keyed hash of its address, kept in memory (or Redis) for the
length of a window and never written to the database or the logs.
"""

import hashlib
import hmac
import threading
import time

from flask import current_app, request

from core.jobs import redis_queue

PER_CLIENT = (10, 15 * 60)  # attempts per window of seconds, for one client
# for everyone together: CELLULE_RECEIPT_ATTEMPTS_PER_MINUTE (600) in a window of 60 s
PLATFORM_WINDOW = 60


class Attempts:
    """Fixed-window counters, in Redis when there is one, else in this process."""

    def __init__(self):
        self._counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window: int) -> bool:
        """Count one attempt; whether it stays within `limit` for this window."""
        bucket = f"cellule:attempts:{key}:{int(time.time() // window)}"
        if current_app.config["REDIS_URL"]:
            try:
                pipe = redis_queue(current_app).connection.pipeline()
                pipe.incr(bucket)
                pipe.expire(bucket, window)
                return pipe.execute()[0] <= limit
            except Exception:
                # Redis unreachable: keep limiting, with this process's own counts
                current_app.logger.warning("receipt attempts counted in process: Redis failed")
        now = time.monotonic()
        with self._lock:
            for stale in [k for k, (_, until) in self._counts.items() if until < now]:
                del self._counts[stale]
            count, until = self._counts.get(bucket, (0, now + window))
            self._counts[bucket] = (count + 1, until)
        return count + 1 <= limit


def _attempts() -> Attempts:
    return current_app.extensions.setdefault("cellule.attempts", Attempts())


def client_key() -> str:
    """An opaque, per-deployment key for the requesting client (never its address)."""
    secret = current_app.config["SECRET_KEY"].encode()
    address = (request.remote_addr or "").encode()
    return hmac.new(secret, b"receipt-client:" + address, hashlib.sha256).hexdigest()[:32]


def receipt_attempt_allowed() -> bool:
    """Count a receipt attempt; False once the client or the platform tried too often."""
    attempts = _attempts()
    if not attempts.hit(f"client:{client_key()}", *PER_CLIENT):
        return False  # a client over its own limit does not use up everyone else's
    per_minute = current_app.config["CELLULE_RECEIPT_ATTEMPTS_PER_MINUTE"]
    return attempts.hit("platform", per_minute, PLATFORM_WINDOW)
