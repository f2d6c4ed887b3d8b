"""gunicorn processes for the benchmarks, with the production settings, on 127.0.0.1."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.browser import Browser

BIN = Path(sys.executable).parent
# The variables a benchmark's processes must not inherit from the shell that runs it.
OWN = ("CELLULE_", "MAIL_", "DATABASE_", "REDIS_", "PROMETHEUS_", "GUNICORN_")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """A gunicorn serving `app` on 127.0.0.1, its output (JSON log lines) in `log`."""

    process: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return sorted(found)

    def worker_memory_mib(self) -> list[float]:
        """Resident memory of each worker process, in MiB."""
        sizes = []
        for pid in self.worker_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            kib = next(int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmRSS:")
            sizes.append(round(kib / 1024, 1))
        return sizes

    def log_offset(self) -> int:
        return self.log.stat().st_size

    def server_times(self, since: int, route: str | None = None) -> list[float]:
        """The app's own time (ms) for the requests logged after byte `since` (of `route`)."""
        times = []
        with self.log.open("rb") as handle:
            handle.seek(since)
            for line in handle:
                if not line.startswith(b"{") or b'"cellule.request"' not in line:
                    continue
                record = json.loads(line)
                if route is None or record.get("route") == route:
                    times.append(record["duration_ms"])
        return times

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_gunicorn(
    environ: dict[str, str],
    folder: Path,
    *,
    name: str,
    app: str | None = None,
    workers: int,
    threads: int,
    timeout: float = 60,
) -> Server:
    """Start gunicorn with Cellule's configuration (`core/gunicorn_conf.py`) serving `app`
    (default: Cellule); return once `/livez` (or `/` for another app) answers."""
    port = free_port()
    log = folder / f"{name}.log"
    metrics = folder / f"{name}-metrics"
    shutil.rmtree(metrics, ignore_errors=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(OWN)},
        **environ,
        "CELLULE_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "CELLULE_WEB_THREADS": str(threads),
        "CELLULE_LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
    }
    command = [str(BIN / "gunicorn"), "--config", "python:core.gunicorn_conf"]
    if app:
        command.append(app)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(process, port, log)
    probe = "/livez" if app is None else "/"
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text()[-3000:]}")
        try:
            answered = Browser(server.url, keep_alive=False).get(probe).status == 200
            if answered and len(server.worker_pids()) >= workers:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{name} did not answer within {timeout} s: {log.read_text()[-3000:]}")
