"""The benchmark: Cellule under gunicorn on 127.0.0.1, against data made by
`benchmarks.generate`, beside the machine's own limits.

    python -m benchmarks.run --manifest /work/bench-data/manifest.json

For each scenario and each concurrency (1, 8 and 32 by default) it measures requests per
second and the p50/p95/p99 latency the clients see, plus the app's own time for the same
requests (from its JSON request log: the "server time"). In the same run it measures the
limits each figure is read against: a plain Flask "hello world" under the same gunicorn
settings, and one argon2id hash at the parameters receipts use. It writes a JSON file and a
Markdown table (machine, commit, settings) into `--out`, and prints the table.
"""

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pyotp

from benchmarks.browser import Browser
from benchmarks.load import Measurement, run_clients
from benchmarks.manifest import Manifest
from benchmarks.servers import Server, start_gunicorn

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "portal_vs_hello": ("portal page throughput ÷ hello world's, at their peaks", ">=", 0.5),
    "submission_vs_argon2": ("submissions per second ÷ argon2id hashes per second", ">=", 0.8),
    "inbox_p95_ms": ("staff inbox, every variant, p95 server time, one client (ms)", "<=", 20.0),
    "case_page_p95_ms": ("case page, 200 events, p95 server time, one client (ms)", "<=", 30.0),
    "dispatch_ms": ("plugin dispatch for a tenant, per request (ms)", "<=", 0.1),
    "worker_memory_mib": ("a web worker's memory, every tenant loaded (MiB)", "<=", 150.0),
}


# -- the scenarios ------------------------------------------------------------------------


class Scenarios:
    """What a benchmark client does, one step at a time; each step raises if the page is not
    what a person would get."""

    def __init__(self, manifest: Manifest, server: Server, rng: random.Random):
        self.manifest, self.server, self.rng = manifest, server, rng
        self.large = manifest.large
        self._sessions: dict[str, dict[str, str]] = {}

    def browser(self, _index: int = 0, **headers) -> Browser:
        return Browser(self.server.url, headers=headers)

    # reporters

    def portal(self, browser: Browser) -> None:
        slug = self.rng.choice(self.manifest.slugs)
        page = browser.get(f"/t/{slug}/")
        expect(page.status == 200 and "/report" in page.text, "portal", page)

    def first_visits(self, concurrency: int = 8) -> dict:
        """Every tenant's landing page visited `concurrency` times, by as many threads each
        in its own order, before the portal is measured, so that every web worker renders
        (and keeps) every tenant's page, as a process that has served for a while has. Each
        visit opens its own connection: a kept-alive one stays with one worker. These first
        visits are a figure of their own."""
        measured = Measurement(concurrency, 0.0)
        lock = threading.Lock()

        def visit(index: int) -> None:
            slugs = list(self.manifest.slugs)
            random.Random(index).shuffle(slugs)
            mine = []
            for slug in slugs:
                browser = self.browser()
                began = time.perf_counter()
                page = browser.get(f"/t/{slug}/")
                expect(page.status == 200, "portal", page)
                mine.append(time.perf_counter() - began)
                browser.close()
            with lock:
                measured.latencies.extend(mine)

        began = time.perf_counter()
        threads = [threading.Thread(target=visit, args=(i,)) for i in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        measured.seconds = time.perf_counter() - began
        if len(measured.latencies) != concurrency * len(self.manifest.slugs):
            raise SystemExit("first visits: a browser failed (see above)")
        row = {"scenario": "portal page, first visits", **measured.summary()}
        print(
            f"  {row['scenario']:<28} c={concurrency:<3} {row['per_second']:>8} req/s  "
            f"p95 {row['p95_ms']} ms",
            flush=True,
        )
        return row

    def submission(self, browser: Browser) -> None:
        slug = self.manifest.anonymous_slug
        form = browser.get(f"/t/{slug}/report")
        expect(form.status == 200, "report form", form)
        sent = browser.submit(
            form,
            "/report",
            relation="witness",
            anonymous="yes",
            narrative="Benchmark narrative: what was seen in the corridor after class.",
            when="last week",
        )
        expect(sent.status == 200 and "receipt-code" in sent.text, "submission", sent)

    def receipt_login(self, browser: Browser) -> None:
        tenant = self.large
        # each login comes from another reporter's address (through the trusted proxy)
        address = (
            f"10.{self.rng.randrange(256)}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}"
        )
        browser.headers["X-Forwarded-For"] = address
        browser.cookies.clear()
        login = browser.get(f"/t/{tenant.slug}/space/login")
        expect(login.status == 200, "receipt login form", login)
        space = browser.submit(login, "/space/login", receipt=self.rng.choice(tenant.receipts))
        expect(
            space.status == 200 and space.url.startswith(f"/t/{tenant.slug}/space"), "space", space
        )

    # staff

    def staff_browser(self, _index: int = 0, *, staff=None) -> Browser:
        """A browser carrying `staff`'s session (default: the inbox's member), signed in once
        (a TOTP code is accepted once: clients share the session, as tabs of one browser)."""
        staff = staff or self.large.staff
        if staff.email not in self._sessions:
            self._sessions[staff.email] = sign_in(Browser(self.server.url), self.large, staff)
        browser = Browser(self.server.url)
        browser.cookies.update(self._sessions[staff.email])
        return browser

    def viewer_browser(self, index: int = 0) -> Browser:
        return self.staff_browser(index, staff=self.large.case_viewer)

    def inbox(self, query: str = ""):
        path = f"/t/{self.large.slug}/staff/{query}"

        def step(browser: Browser) -> None:
            page = browser.get(path)
            # a narrow filter may match nothing: the page, not its rows, is what is measured
            expect(page.status == 200 and 'name="state"' in page.text, "inbox", page)

        return step

    def case_page(self, browser: Browser, query: str = "") -> None:
        public_id = self.rng.choice(self.large.long_cases)
        page = browser.get(f"/t/{self.large.slug}/staff/cases/{public_id}{query}")
        expect(page.status == 200 and public_id[:8] in page.text, "case page", page)

    def whole_timeline(self, browser: Browser) -> None:
        """The case page with every entry of its timeline (not a target: the page shows the
        latest, and this is a reader's choice)."""
        self.case_page(browser, "?timeline=all")


class Unexpected(RuntimeError):
    pass


def expect(condition: bool, what: str, page) -> None:
    if not condition:
        raise Unexpected(f"{what}: HTTP {page.status} at {page.url}")


def sign_in(browser: Browser, tenant, staff) -> dict[str, str]:
    login = browser.get(f"/t/{tenant.slug}/staff/login")
    second = browser.submit(login, "/staff/login", email=staff.email, password=staff.password)
    expect(second.status == 200 and "/staff/second-factor" in second.url, "password", second)
    inbox = browser.submit(second, "/staff/second-factor", code=pyotp.TOTP(staff.totp).now())
    expect(inbox.status == 200 and "/staff/second-factor" not in inbox.url, "second factor", inbox)
    return dict(browser.cookies)


# -- in-process measures ------------------------------------------------------------------


def argon2_limits(cpus: int, seconds: float = 2.0) -> dict:
    """One argon2id hash at the receipts' parameters: its median time alone, and how many
    the machine makes in a second with a thread per CPU (the bound of anything that hashes
    once per request: a submission, a receipt login)."""
    from core.reports.operations import receipt_hash

    times = []
    for n in range(5):
        started = time.perf_counter()
        receipt_hash(1, f"{n:020d}")
        times.append(time.perf_counter() - started)
    done = []

    def hash_until(stop: float) -> None:
        count = 0
        while time.perf_counter() < stop:
            receipt_hash(1, f"{count:020d}")
            count += 1
        done.append(count)

    stop = time.perf_counter() + seconds
    threads = [threading.Thread(target=hash_until, args=(stop,)) for _ in range(cpus)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "argon2id_seconds": round(statistics.median(times), 4),
        "argon2id_per_second": round(sum(done) / (time.perf_counter() - started), 2),
    }


def in_process(manifest: Manifest) -> dict:
    """Plugin dispatch per request over every tenant, and audit-chain verification speed."""
    from core.audit.operations import verify_chain
    from core.extensions import db
    from core.plugins.host import TenantInfo, plugin_host
    from core.procedure.definition import Institution
    from core.tenancy.models import Tenant
    from core.tenancy.scoping import platform_scope, tenant_scope

    app = manifest.app()
    with app.app_context():
        with platform_scope():
            infos = [TenantInfo.of(t) for t in db.session.scalars(db.select(Tenant))]
            db.session.rollback()
        host = plugin_host()
        for info in infos:  # a worker that has served every tenant once
            Institution.of(host, info)
        rng = random.Random(7)
        picks = [rng.choice(infos) for _ in range(20_000)]
        started = time.perf_counter()
        for info in picks:
            Institution.of(host, info)
        dispatch_ms = (time.perf_counter() - started) / len(picks) * 1000
        large = db.session.scalar(db.select(Tenant.id).where(Tenant.slug == manifest.large.slug))
        with tenant_scope(large):
            started = time.perf_counter()
            report = verify_chain(large)
            seconds = time.perf_counter() - started
            db.session.rollback()
        db.engine.dispose()
    return {
        "tenants": len(infos),
        "dispatch_ms": round(dispatch_ms, 4),
        "audit": {
            "tenant": manifest.large.slug,
            "events": report.checked,
            "intact": report.ok,
            "seconds": round(seconds, 3),
            "events_per_second": round(report.checked / seconds) if seconds else None,
        },
    }


# -- the run ------------------------------------------------------------------------------


def measure(name, server, make_client, step, levels, seconds, route=None) -> list[dict]:
    results = []
    for concurrency in levels:
        since = server.log_offset() if server else None
        measured: Measurement = run_clients(
            make_client, step, concurrency=concurrency, seconds=seconds
        )
        row = {"scenario": name, **measured.summary()}
        if server is not None:
            times = server.server_times(since, route)
            if len(times) >= 2:
                cuts = statistics.quantiles(times, n=100, method="inclusive")
                row["server_p50_ms"], row["server_p95_ms"] = round(cuts[49], 2), round(cuts[94], 2)
        results.append(row)
        print(
            f"  {name:<28} c={concurrency:<3} {row['per_second']:>8} req/s  "
            f"p95 {row['p95_ms']} ms  server p95 {row.get('server_p95_ms')} ms  "
            f"errors {row['errors']}",
            flush=True,
        )
    return results


def machine() -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        int(line.split()[1]) // 1024
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_mib": memory,
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip() + (" (with uncommitted changes)" if _dirty() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _dirty() -> bool:
    return bool(
        subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--manifest", type=Path, required=True, help="written by benchmarks.generate"
    )
    parser.add_argument(
        "--app-url", help="the application role's database URL (default: the manifest's)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario and concurrency")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--only", action="append", help="a scenario to measure (repeatable; default: all)"
    )
    options = parser.parse_args(argv)
    levels = [int(c) for c in options.concurrency.split(",")]
    manifest = Manifest.load(options.manifest, options.app_url)
    options.out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="cellule-bench-"))
    environ = {
        **manifest.environ(),
        "CELLULE_INSTANCE_PATH": str(folder / "instance"),
        "CELLULE_SECURE_COOKIES": "off",  # plain HTTP on 127.0.0.1
        "CELLULE_TRUSTED_PROXIES": "1",  # each receipt login from its own reporter's address
        "CELLULE_RECEIPT_ATTEMPTS_PER_MINUTE": "1000000",
    }
    wanted = set(options.only) if options.only else None
    settings = {
        "workers": options.workers,
        "threads": options.threads,
        "worker_class": "gthread",
        "seconds_per_measure": options.seconds,
        "concurrency": levels,
        "database": "PostgreSQL (application role, row-level security)",
    }
    print(
        f"benchmark: {manifest.describe()}; gunicorn {options.workers} workers × "
        f"{options.threads} threads; {options.seconds:g} s per measure",
        flush=True,
    )
    rows: list[dict] = []
    limits = argon2_limits(os.cpu_count() or 1)
    print(
        f"  one argon2id hash: {limits['argon2id_seconds'] * 1000:.1f} ms; "
        f"{limits['argon2id_per_second']} hashes/s on every CPU",
        flush=True,
    )

    hello = start_gunicorn(
        environ,
        folder,
        name="hello",
        app="benchmarks.hello:app",
        workers=options.workers,
        threads=options.threads,
    )
    try:

        def hello_step(browser):
            page = browser.get("/")
            expect(page.status == 200, "hello", page)

        rows += measure(
            "hello world", None, lambda i: Browser(hello.url), hello_step, levels, options.seconds
        )
    finally:
        hello.stop()

    server = start_gunicorn(
        environ, folder, name="cellule", workers=options.workers, threads=options.threads
    )
    try:
        scenarios = Scenarios(manifest, server, random.Random(1))
        plan = [
            ("portal page", scenarios.browser, scenarios.portal, "/"),
            ("anonymous submission", scenarios.browser, scenarios.submission, "/report"),
            ("receipt login", scenarios.browser, scenarios.receipt_login, "/space/login"),
            ("inbox, first page", scenarios.staff_browser, scenarios.inbox(), "/staff/"),
            (
                "inbox, deep page",
                scenarios.staff_browser,
                scenarios.inbox(f"?after={manifest.large.deep_key}"),
                "/staff/",
            ),
            (
                "inbox, filtered",
                scenarios.staff_browser,
                scenarios.inbox(f"?state={manifest.large.common_state}&deadline=overdue"),
                "/staff/",
            ),
            (
                "inbox, filtered, deep",
                scenarios.staff_browser,
                scenarios.inbox(
                    f"?state={manifest.large.common_state}&after={manifest.large.deep_key}"
                ),
                "/staff/",
            ),
            (
                "case page, 200 events",
                scenarios.viewer_browser,
                scenarios.case_page,
                "/staff/cases/<public_id>",
            ),
            (
                "whole timeline, 200 events",
                scenarios.viewer_browser,
                scenarios.whole_timeline,
                "/staff/cases/<public_id>",
            ),
        ]
        for name, make_client, step, route in plan:
            if wanted and name not in wanted:
                continue
            if name == "portal page":
                rows.append(scenarios.first_visits())
            rows += measure(name, server, make_client, step, levels, options.seconds, route)
        memory = server.worker_memory_mib()
    finally:
        server.stop()
    inside = in_process(manifest)
    print(
        f"  plugin dispatch: {inside['dispatch_ms']} ms per request over "
        f"{inside['tenants']} tenants; audit verification: "
        f"{inside['audit']['events_per_second']} events/s",
        flush=True,
    )

    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "settings": settings,
        "data": manifest.describe_dict(),
        "limits": limits,
        "measures": rows,
        "worker_memory_mib": memory,
        "in_process": inside,
    }
    result["targets"] = evaluate(result)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (options.out / f"bench-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (options.out / f"bench-{stamp}.md").write_text(table)
    print("\n" + table)
    print(f"written: {options.out / f'bench-{stamp}.json'} and .md")
    return result


def evaluate(result: dict) -> dict:
    """Each target, with the figure measured and whether it is met (None: not measured).

    Throughputs are compared at their peaks (the best of the concurrencies measured); the
    server times at one client, where they are the app's own work and no queue: with more
    clients than CPUs, the time a request waits for one is counted in too.
    """
    rows = result["measures"]

    def peak(scenario):
        clean = [r for r in rows if r["scenario"] == scenario and not r["errors"]]
        return max((r["per_second"] for r in clean), default=None)

    def alone(prefix):
        measured = [r for r in rows if r["scenario"].startswith(prefix) and r["concurrency"] == 1]
        if not measured or any(r["errors"] or not r["done"] for r in measured):
            return None  # a page that failed is not a time
        times = [r.get("server_p95_ms") for r in measured]
        return max(times) if None not in times else None

    figures = {}
    if peak("portal page") and peak("hello world"):
        figures["portal_vs_hello"] = peak("portal page") / peak("hello world")
    if peak("anonymous submission"):
        figures["submission_vs_argon2"] = (
            peak("anonymous submission") / result["limits"]["argon2id_per_second"]
        )
    figures["inbox_p95_ms"] = alone("inbox")
    figures["case_page_p95_ms"] = alone("case page")
    figures["dispatch_ms"] = result["in_process"]["dispatch_ms"]
    if result["worker_memory_mib"]:
        figures["worker_memory_mib"] = max(result["worker_memory_mib"])
    evaluated = {}
    for key, (what, sense, limit) in TARGETS.items():
        value = figures.get(key)
        met = None if value is None else (value >= limit if sense == ">=" else value <= limit)
        evaluated[key] = {
            "what": what,
            "target": f"{sense} {limit}",
            "measured": None if value is None else round(value, 4),
            "met": met,
        }
    return evaluated


def markdown(result: dict) -> str:
    m, s = result["machine"], result["settings"]
    hash_ms = result["limits"]["argon2id_seconds"] * 1000
    lines = [
        f"# Cellule benchmark, {result['when']}",
        "",
        f"Commit {result['commit']}; {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_mib']} MiB; "
        f"Python {m['python']}; gunicorn {s['workers']} workers × {s['threads']} threads "
        f"({s['worker_class']}); {s['seconds_per_measure']:g} s per measure; "
        f"data: {result['data']['summary']}.",
        "",
        f"One argon2id hash (receipts' parameters): {hash_ms:.1f} ms; "
        f"{result['limits']['argon2id_per_second']} hashes/s on every CPU. "
        f"Audit-chain verification: {result['in_process']['audit']['events_per_second']} events/s "
        f"({result['in_process']['audit']['events']} events). Web workers' memory: "
        f"{', '.join(str(x) for x in result['worker_memory_mib'])} MiB.",
        "",
        "| scenario | clients | req/s | p50 ms | p95 ms | p99 ms | server p95 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["measures"]:
        lines.append(
            f"| {r['scenario']} | {r['concurrency']} | {r['per_second']} | {r['p50_ms']} | "
            f"{r['p95_ms']} | {r['p99_ms']} | {r.get('server_p95_ms', '–')} | {r['errors']} |"
        )
    lines += ["", "| target | wanted | measured | met |", "|---|---|---:|---|"]
    for t in result["targets"].values():
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['what']} | {t['target']} | {t['measured']} | {met} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
