"""Closed-loop load: `concurrency` clients, each sending its next request when the last one
is answered, for a fixed time; latencies as the clients see them.

The clients are threads of one process on the same machine as the server: they take some of
its CPU, which is why every figure is read beside the limit measured the same way (a plain
Flask "hello world" under the same gunicorn settings).
"""

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Measurement:
    concurrency: int
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, of the successful ones
    errors: int = 0
    first_error: str | None = None

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def percentile(self, p: int) -> float | None:
        """The p-th percentile latency in milliseconds (None without enough samples)."""
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else None
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000

    def summary(self) -> dict:
        return {
            "concurrency": self.concurrency,
            "seconds": round(self.seconds, 3),
            "done": self.done,
            "errors": self.errors,
            "first_error": self.first_error,
            "per_second": round(self.per_second, 2),
            "p50_ms": _round(self.percentile(50)),
            "p95_ms": _round(self.percentile(95)),
            "p99_ms": _round(self.percentile(99)),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def run_clients(
    make_client: Callable[[int], object],
    step: Callable[[object], None],
    *,
    concurrency: int,
    seconds: float,
    warmup: float = 0.5,
) -> Measurement:
    """Run `step(client)` in a loop in `concurrency` threads for `seconds` (after `warmup`
    seconds not counted); `step` raises to count an error. Each thread gets its own client,
    `make_client(i)`, made before the clock starts."""
    clients = [make_client(i) for i in range(concurrency)]
    measurement = Measurement(concurrency, seconds)
    lock = threading.Lock()
    start_at = time.perf_counter() + 0.05
    count_from = start_at + warmup
    stop_at = count_from + seconds

    def loop(client) -> None:
        mine, errors, first = [], 0, None
        while (now := time.perf_counter()) < start_at:
            time.sleep(start_at - now)
        while (began := time.perf_counter()) < stop_at:
            try:
                step(client)
            except Exception as exc:  # a failed request is counted, the client goes on
                if began >= count_from:
                    errors += 1
                    first = first or f"{type(exc).__name__}: {exc}"[:300]
                continue
            if began >= count_from:
                mine.append(time.perf_counter() - began)
        with lock:
            measurement.latencies.extend(mine)
            measurement.errors += errors
            measurement.first_error = measurement.first_error or first

    threads = [threading.Thread(target=loop, args=(c,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        close = getattr(client, "close", None)
        if close:
            close()
    return measurement
