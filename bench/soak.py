"""`make soak`: the whole platform under a steady load for a long time, judged for leaks (issue #22).

    uv run python bench/soak.py [--minutes 30] [--warmup-minutes 5] [--sample-seconds 60] [--readers 20]
                                [--rate R] [--measure-seconds 60] [--store postgresql] [--brokers 1]

1. Starts a Kafka, FerretDB and PostgreSQL of its own (ports 39092/39093, 27020, 55440: `SOAK_*_PORT`;
   data under `.cache/soak/`: `SOAK_CACHE_DIR`; wiped at each start, always stopped at the end, on an
   error or Ctrl-C too) and the platform as real processes: gateway, instances, support, reports, and
   activity in its two roles as deployed (`activity`: ingest and the reads; `activity-consumer`);
   then the demo data, the partner's admin logged in (bench/scenarios/gateway.py).
2. Unless `--rate` is given, measures the end-to-end ingest rate under the soak's readers: while
   `--readers` clients read the list as in 3., terminals post as fast as the gateway answers for
   `--measure-seconds`, then until the consumer has stored it all (bench/scenarios/ingest.py). The
   soak's rate is half of that: half of what the platform stores with its readers online (measured
   without them, the rate is about twice as high, and half of it is more than the consumer stores
   while the readers take their share of the two cores: the lag grew without bound).
3. For `--minutes` (the warm-up included), terminals post telemetry at that rate and `--readers`
   clients read the partner's instance list (`GET /api/v1/instances?limit=20`), each sending its
   next request on the answer (the light generator of bench/harness.py), both through the gateway,
   as terminals and users reach the platform. The readers refresh their access token (10 minutes)
   as the web app does. Every `--sample-seconds` it records, for each process: its resident memory
   (VmRSS), its open file descriptors (/proc/<pid>/fd), the cores it used in the period; and the
   activity consumer group's lag on the telemetry topic, the list's requests, p50, p99 and errors
   in the period, the events acknowledged (refused, failed). PostgreSQL's memory is the PSS
   (smaps_rollup) summed over the postmaster and its backends: each backend's RSS counts the shared
   buffers it has touched, so a sum of RSS would count those pages once per backend, and grow as
   backends touch more of them; its descriptors are summed the same way. Its buffer pool (the
   shared-memory part of that PSS, `Pss_Shmem`) is recorded apart, not judged: a segment of fixed
   size (`shared_buffers`) allocated at start, whose pages count from their first use, so that it
   "grows" until the pool is full whatever the load does. The load generator's own figures (this
   process) are recorded, not judged.
4. Then waits for the consumer to drain and counts what was stored against what was acknowledged.
5. Judges the samples after warm-up (the rules: bench/soak_verdict.py) and writes `soak.json` (every
   sample, the verdict, the settings, the machine), `soak.md` (the tables) and `soak.png` (RSS and lag
   over time): into bench/results/ for a full run (`--minutes` >= 30), into the cache
   (`.cache/soak/results-short.*`) for a shorter one. Exits 1 when the verdict fails, naming what
   failed (a run stopped early by an error fails, its samples kept).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2

import harness
from harness import (
    POSTGRESQL,
    ROOT,
    CpuMeter,
    LagWatch,
    Platform,
    ServiceProcess,
    Terminals,
    children_of,
    count_records,
    issue_ingest_key,
    light_hammer,
    open_fds,
    processes,
    pss_kb,
    status_kb,
)
from partnerapp_stack.private import PrivateStack
from report import machine
from scenarios.common import activity, topics, wait_drained
from scenarios.gateway import Seeded, behind_gateway, seeded, start_all
from scenarios.ingest import end_to_end
from soak_verdict import judge

CACHE = Path(os.environ.get("SOAK_CACHE_DIR", ROOT / ".cache" / "soak")).resolve()
KAFKA_PORT = int(os.environ.get("SOAK_KAFKA_PORT", "39092"))
KAFKA_CONTROLLER_PORT = int(os.environ.get("SOAK_KAFKA_CONTROLLER_PORT", "39093"))
MONGO_PORT = int(os.environ.get("SOAK_MONGO_PORT", "27020"))
POSTGRES_PORT = int(os.environ.get("SOAK_POSTGRES_PORT", "55440"))
RESULTS = ROOT / "bench" / "results"
FULL_MINUTES = 30  # a run this long writes into bench/results/, a shorter one into the cache
DATABASE, GROUP = "soak_activity", "soak-activity"
LIST = "/api/v1/instances?limit=20"
GENERATOR = "load generator (this process)"  # CpuMeter's name for it
# The soak's terminals: 50 events a batch, 16 posting at a time, so that each has a few seconds
# between its batches and a slow answer (a second or two under the readers) does not lower the rate.
TERMINAL_WORKERS, BATCH = 16, 50
RATE_SHORTFALL = 0.95  # events acknowledged after warm-up below this share of the rate: a warning
INTERRUPTED = "interrupted (Ctrl-C or a signal)"
DRAIN_SECONDS = 600


def say(message: str) -> None:
    harness.say(message, tag="soak")


class SoakInfra(PrivateStack):
    """Kafka, FerretDB and PostgreSQL of the soak's own."""

    def __init__(self, store: str, brokers: int) -> None:
        super().__init__(
            CACHE,
            kafka_port=KAFKA_PORT,
            controller_port=KAFKA_CONTROLLER_PORT,
            mongo_port=MONGO_PORT,
            postgres_port=POSTGRES_PORT,
            store=store,
            brokers=brokers,
            port_hint="set SOAK_*_PORT",
        )


# --------------------------------------------------------------------------- sampling


class Sampler:
    """Every process's memory, descriptors and cores, read from /proc."""

    def __init__(self, infra: SoakInfra, services: dict[str, ServiceProcess]) -> None:
        self.meter = CpuMeter(services, infra)
        self._cpu, self._at = self.meter.read(), time.monotonic()

    def names(self) -> list[str]:
        return list(self.meter.roots)

    def read(self) -> dict[str, Any]:
        rss: dict[str, float | None] = {}
        fds: dict[str, int | None] = {}
        backends = shared = None
        for name, pid in self.meter.roots.items():
            if pid is None:
                rss[name] = fds[name] = None
            elif name == POSTGRESQL:
                tree = [pid, *children_of(pid)]
                backends = len(tree) - 1
                sizes, files = [pss_kb(p) for p in tree], [open_fds(p) for p in tree]
                pooled = [pss_kb(p, "Pss_Shmem") or 0 for p in tree]
                if sizes[0] is None:
                    rss[name] = shared = None
                else:  # the buffer pool apart: a segment of fixed size whose pages count once touched
                    shared = _mb(sum(pooled))
                    rss[name] = _mb(sum(s for s in sizes if s is not None) - sum(pooled))
                fds[name] = sum(f for f in files if f is not None) if files[0] is not None else None
            else:
                size = status_kb(pid, "VmRSS")
                rss[name], fds[name] = (_mb(size) if size is not None else None), open_fds(pid)
        cpu, at = self.meter.read(), time.monotonic()
        cores = {name: round((cpu[name] - self._cpu.get(name, cpu[name])) / (at - self._at), 2) for name in cpu}
        self._cpu, self._at = cpu, at
        return {
            "rss_mb": rss,
            "fds": fds,
            "postgresql_backends": backends,
            "postgresql_shared_mb": shared,
            "cores": cores,
        }


def _mb(kb: int) -> float:
    return round(kb / 1024, 1)


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class Session:
    """The readers' login: a fresh access token, refreshed (once per refresh token) before it expires."""

    gateway_url: str
    login: dict[str, Any]
    got_at: float = field(default_factory=time.monotonic)
    refreshes: int = 0
    # Readers ask for the token concurrently; a refresh token is good for one use (a second use is
    # taken for a stolen one and refused with 401), so one of them refreshes while the others wait.
    refreshing: asyncio.Lock = field(default_factory=asyncio.Lock)

    def _stale(self) -> bool:
        return time.monotonic() - self.got_at > float(self.login["expires_in"]) / 2

    async def token(self) -> str:
        if self._stale():
            async with self.refreshing:
                if self._stale():
                    async with httpx2.AsyncClient(base_url=self.gateway_url, timeout=30) as client:
                        answer = await client.post(
                            "/api/v1/auth/refresh", json={"refresh_token": self.login["refresh_token"]}
                        )
                        answer.raise_for_status()
                    self.login, self.got_at = answer.json(), time.monotonic()
                    self.refreshes += 1
        return str(self.login["access_token"])


@dataclass
class Soak:
    """One soak's settings and what it runs against."""

    args: argparse.Namespace
    infra: SoakInfra
    platform: Platform
    services: dict[str, ServiceProcess]
    seed: Seeded
    key: str
    rate: float


def periods(args: argparse.Namespace) -> tuple[int, int]:
    """The sample periods of the load, and how many of them are the warm-up."""
    total: int = round(args.minutes * 60 / args.sample_seconds)
    warmup: int = round(args.warmup_minutes * 60 / args.sample_seconds)
    return total, warmup


async def soaked(soak: Soak, samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The load for `--minutes`, a sample appended to `samples` at the start and after each period."""
    args, gateway_url = soak.args, soak.services["gateway"].url
    session = Session(gateway_url, soak.seed.login)
    terminals = Terminals(
        f"{gateway_url}/api", soak.key, rate=soak.rate, batch=BATCH, workers=TERMINAL_WORKERS, keep_going=True
    )
    sampler = Sampler(soak.infra, soak.services)
    counted = {"acknowledged": 0, "refused": 0, "failed": 0}
    total, warmup = periods(args)

    async def take(period: int, began: float, reading: dict[str, Any] | None) -> dict[str, Any]:
        try:
            lag: int | None = await watch.lag()
        except Exception as exc:  # Kafka slow to answer: no figure this time (the verdict counts them)
            say(f"lag not measured: {exc!r}")
            lag = None
        now = {"acknowledged": terminals.acked, "refused": terminals.refused, "failed": terminals.failed}
        sample = {
            "period": period,
            "seconds": round(time.monotonic() - began, 1),
            "warmup": 0 < period <= warmup,
            **sampler.read(),
            "lag": lag,
            "list": reading,
            **{name: now[name] - counted[name] for name in now},
            "load_average": load_average(),
        }
        counted.update(now)
        samples.append(sample)
        say(_line(sample))
        return sample

    async def read_list() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {await session.token()}"}
        return await light_hammer(f"{gateway_url}{LIST}", headers, args.readers, args.sample_seconds)

    async with LagWatch(soak.platform, GROUP) as watch:
        began = time.monotonic()
        await take(0, began, None)
        say(
            f"{args.minutes:g} min: {soak.rate:.0f} events/s through the gateway, {args.readers} readers of the list; "
            f"a sample every {args.sample_seconds:g} s, the first {warmup} of warm-up"
        )
        terminals.start()
        reading = asyncio.create_task(read_list())
        try:
            for period in range(1, total + 1):
                figures = await reading
                if period < total:
                    reading = asyncio.create_task(read_list())
                await take(period, began, figures)
        finally:
            if not reading.done():
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reading
            await terminals.finish()
    return {
        "acknowledged": terminals.acked,
        "refused": terminals.refused,
        "failed": terminals.failed,
        "first_error": terminals.first_error,
        "token_refreshes": session.refreshes,
    }


def _line(sample: dict[str, Any]) -> str:
    rss = ", ".join(f"{_short(name)} {mb:.0f}" for name, mb in sample["rss_mb"].items() if mb is not None)
    reading = sample["list"]
    listed = (
        f"list p99 {reading['p99_ms']} ms ({reading['requests']} req, {reading['errors']} err); " if reading else ""
    )
    mark = " (warm-up)" if sample["warmup"] else ""
    return (
        f"sample {sample['period']} at {sample['seconds']:.0f} s{mark}: lag {sample['lag']}; {listed}"
        f"acked {sample['acknowledged']}; RSS MB {rss}"
    )


# --------------------------------------------------------------------------- the run


async def run(args: argparse.Namespace) -> dict[str, Any]:
    infra = SoakInfra(args.store, args.brokers)
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "arguments": " ".join(sys.argv[1:]) or "(defaults)",
        "settings": {name: value for name, value in vars(args).items() if name != "func"},
        "machine": {**machine(args.store), "kafka_brokers": args.brokers},
        "list_route": LIST,
        "samples": [],
    }
    began = time.monotonic()
    try:
        say(f"starting Kafka ({infra.kafka}), FerretDB ({args.store}) of its own, under {CACHE.name}/ in the cache")
        infra.start()
        report["infra_start_seconds"] = round(time.monotonic() - began, 1)
        platform = Platform(infra, f"soak-{uuid.uuid4().hex[:6]}.")
        await topics(platform)
        await on_platform(args, infra, platform, report, began)
    except asyncio.CancelledError:  # stopped: clean up, keep what was sampled, fail
        say("interrupted: stopping everything")
        report["aborted"] = INTERRUPTED
        if (task := asyncio.current_task()) is not None:
            task.uncancel()
    except Exception as exc:  # before the load (start-up, seeding, the measurement): named, the run fails
        say(f"failed before the load ended:\n{traceback.format_exc()}")
        report["aborted"] = repr(exc)
    finally:
        say("stopping the soak's Kafka and FerretDB")
        infra.stop()
    report["seconds"] = round(time.monotonic() - began, 1)
    report["verdict"] = verdict(report, args)
    return report


async def on_platform(
    args: argparse.Namespace, infra: SoakInfra, platform: Platform, report: dict[str, Any], began: float
) -> None:
    """The platform's processes started, seeded, measured and soaked; always stopped on the way out."""
    with processes() as started:
        roles = {
            "activity": activity(platform, "soak-ingest", DATABASE, GROUP, role="ingest"),
            "activity-consumer": activity(platform, "soak-consumer", DATABASE, GROUP, role="consumer"),
        }
        services = behind_gateway(platform, "soak", roles)
        await start_all(services, started)
        seed = await seeded(platform, services, set())
        key = await issue_ingest_key(platform, DATABASE, seed.partner)
        report["platform_ready_seconds"] = round(time.monotonic() - began, 1)
        report["list_items"] = await list_items(services["gateway"].url, seed.token)
        rate = args.rate
        if rate is None:
            say(
                f"measuring the end-to-end ingest rate: {args.measure_seconds:g} s as fast as the gateway answers, "
                f"{args.readers} readers of the list meanwhile"
            )
            gateway_api = f"{services['gateway'].url}/api"
            measuring = end_to_end(platform, gateway_api, key, DATABASE, GROUP, args.measure_seconds, 8)
            measured = await while_reading(
                services["gateway"].url, Session(services["gateway"].url, seed.login), args.readers, measuring
            )
            report["measured"] = measured
            rate = measured["events_per_s"] / 2
            say(f"end to end {measured['events_per_s']} events/s: the soak runs at {rate:.0f}")
        report["rate"] = round(rate, 1)
        soak = Soak(args, infra, platform, services, seed, key, rate)
        try:
            report["ingest"] = await soaked(soak, report["samples"])
        except Exception as exc:  # the samples so far are kept and judged; the run fails
            say(f"the soak stopped early: {exc!r}")
            report["aborted"] = repr(exc)
        report["drain"] = await drained(platform, report)


async def while_reading(
    gateway_url: str, session: Session, readers: int, work: Coroutine[Any, Any, dict[str, Any]]
) -> dict[str, Any]:
    """`work`'s figures, with `readers` clients reading the list all the while (in 10-second rounds:
    the last one ends at most 10 s after the work) and their requests and p99 added."""
    done, rounds = asyncio.Event(), []

    async def read() -> None:
        while not done.is_set():
            headers = {"Authorization": f"Bearer {await session.token()}"}
            rounds.append(await light_hammer(f"{gateway_url}{LIST}", headers, readers, 10))

    reading = asyncio.create_task(read())
    try:
        figures = await work
    finally:
        done.set()
        await reading
    figures["readers"] = {
        "clients": readers,
        "requests": sum(r["requests"] for r in rounds),
        "errors": sum(r["errors"] for r in rounds),
        "p99_ms_worst_round": max((r["p99_ms"] for r in rounds), default=None),
    }
    return figures


async def list_items(gateway_url: str, token: str) -> int:
    async with httpx2.AsyncClient(base_url=gateway_url, timeout=30) as client:
        answer = await client.get(LIST, headers={"Authorization": f"Bearer {token}"})
        answer.raise_for_status()
        return len(answer.json()["items"])


async def drained(platform: Platform, report: dict[str, Any]) -> dict[str, Any]:
    """Seconds until the consumer caught up after the load, and what was stored of what was acknowledged."""
    say("waiting for the consumer to store the rest")
    figures: dict[str, Any] = {}
    try:
        figures["seconds"] = round(await wait_drained(platform, GROUP, within=DRAIN_SECONDS), 1)
    except RuntimeError as exc:
        figures["error"] = str(exc)
    acknowledged = report.get("measured", {}).get("acknowledged", 0) + report.get("ingest", {}).get("acknowledged", 0)
    figures["acknowledged"] = acknowledged
    began = time.monotonic()
    figures["stored"] = await count_records(platform.infra.mongo_url, DATABASE, kind="telemetry")
    figures["count_seconds"] = round(time.monotonic() - began, 1)
    return figures


def verdict(report: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    total, warmup = periods(args)
    judged = [s for s in report["samples"] if s["period"] > warmup]
    names = [name for name in (report["samples"][0]["rss_mb"] if report["samples"] else {}) if name != GENERATOR]
    readings = [s["list"] for s in report["samples"] if s["list"]]
    result = judge(
        [s["seconds"] for s in judged],
        {name: [s["rss_mb"].get(name) for s in judged] for name in names},
        [s["lag"] for s in judged],
        lag_bound=report.get("rate", 0) * args.sample_seconds,
        fds={name: [s["fds"].get(name) for s in judged] for name in names},
        errors={
            "list requests failed": sum(r["errors"] for r in readings),
            "ingest batches refused": sum(s["refused"] for s in report["samples"]) // BATCH,
            "ingest batches without an answer": sum(s["failed"] for s in report["samples"]) // BATCH,
        },
    )
    if judged and (rate := report.get("rate")):
        seconds = judged[-1]["seconds"] - report["samples"][warmup]["seconds"]
        achieved = sum(s["acknowledged"] for s in judged) / seconds if seconds > 0 else 0.0
        if achieved < RATE_SHORTFALL * rate:
            result.warnings.append(f"ingest after warm-up: {achieved:.0f} events/s acknowledged of {rate:.0f}")
    if "aborted" in report:
        result.failures.append(f"the soak stopped early: {report['aborted']}")
    elif len(report["samples"]) <= total:
        result.failures.append("the soak did not run its full time")
    drain = report.get("drain", {})
    if "error" in drain:
        result.failures.append(f"after the load: {drain['error']}")
    elif drain and drain["stored"] < drain["acknowledged"]:
        result.failures.append(f"stored {drain['stored']} of {drain['acknowledged']} acknowledged events")
    return result.as_dict()


# --------------------------------------------------------------------------- results


def written(report: dict[str, Any], full: bool) -> list[Path]:
    folder, stem = (RESULTS, "soak") if full else (CACHE, "results-short")
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}.json", folder / f"{stem}.md", folder / f"{stem}.png"]
    paths[0].write_text(json.dumps(report, indent=2) + "\n")
    paths[1].write_text(markdown(report, paths[2].name))
    plot(report, paths[2])
    return paths


def _short(name: str) -> str:
    return "generator" if name == GENERATOR else name


def markdown(report: dict[str, Any], png: str) -> str:
    m, s, v = report["machine"], report["settings"], report["verdict"]
    out = [f"# Soak — {report['started']}\n"]
    out.append(
        f"{m['cores']} cores ({m['cpu']}), {m['memory_gb']} GiB; Python {m['python']}; {m['store']}; "
        f"Kafka {m['kafka']} ({m['kafka_brokers']} broker(s)).\n"
    )
    out.append(
        f"Arguments: `{report['arguments']}`; took {report['seconds']:.0f} s in all (infrastructure started in "
        f"{report.get('infra_start_seconds', '?')} s, the platform ready and seeded at "
        f"{report.get('platform_ready_seconds', '?')} s).\n"
    )
    measured = report.get("measured")
    source = (
        f"half the end-to-end rate measured first ({measured['events_per_s']} events/s: {measured['stored']} events "
        f"stored {measured['seconds_until_stored']} s after the first of {measured['seconds_sending']} s of posts"
        f"{_readers_during(measured)})"
        if measured
        else "given (`--rate`)"
    )
    out.append(
        f"Load: {report.get('rate', '?')} events/s of telemetry through the gateway's ingest route, {source}; "
        f"{s['readers']} readers of `GET {LIST}` through the gateway ({report.get('list_items', '?')} items a page), "
        f"each sending its next request on the answer. {s['minutes']:g} minutes, the first {s['warmup_minutes']:g} "
        f"of warm-up (not judged), a sample every {s['sample_seconds']:g} s.\n"
    )
    out.append(f"**Verdict: {'passed' if v['passed'] else 'FAILED'}** (rules: bench/soak_verdict.py).\n")
    out.extend(f"- fails: {failure}" for failure in v["failures"])
    out.extend(f"- warns: {warning}" for warning in v["warnings"])
    if v["failures"] or v["warnings"]:
        out.append("")
    if lag := v["lag"]:
        out.append(
            f"Lag after warm-up: {lag['start']:.0f} → {lag['end']:.0f} events (medians of the first and last "
            f"samples; it fails when it grows by more than {lag['bound']:.0f}, one period's events), "
            f"slope {lag['slope_per_s']} events/s.\n"
        )
    if drain := report.get("drain"):
        out.append(
            f"After the load: drained in {drain.get('seconds', '?')} s; {drain['stored']} telemetry records stored "
            f"of {drain['acknowledged']} events acknowledged (counted in {drain['count_seconds']} s).\n"
        )
    out.append("| process | RSS MB after warm-up | at the end | growth | open files after warm-up | at the end |")
    out.append("|---|---:|---:|---:|---:|---:|")
    for name, growth in v["memory_mb"].items():
        files = v["fds"].get(name, {})
        out.append(
            f"| {name} | {growth['start']:.1f} | {growth['end']:.1f} | {growth['growth_pct']:+.1f} % "
            f"| {files.get('start', float('nan')):.0f} | {files.get('end', float('nan')):.0f} |"
        )
    samples = report["samples"]
    if samples:
        names = list(samples[0]["rss_mb"])
        out.append(f"\n## Samples\n\n![RSS and lag over time]({png})\n")
        out.append(
            "RSS in MB (PostgreSQL: PSS of the postmaster and its backends, its buffer pool apart: "
            "the shared memory touched, not judged); w: warm-up.\n"
        )
        out.append(
            "| minute | "
            + " | ".join(_short(n) for n in names)
            + " | PostgreSQL buffer pool | lag | list p50 / p99 ms | list req/s | errors | acked/s | load |"
        )
        out.append("|---:|" + "---:|" * (len(names) + 7))
        for sample in samples:
            reading = sample["list"] or {}
            period = max(sample["seconds"] - (samples[sample["period"] - 1]["seconds"] if sample["period"] else 0), 1)
            cells = [f"{sample['seconds'] / 60:.1f}{' w' if sample['warmup'] else ''}"]
            cells += [_cell(sample["rss_mb"].get(n)) for n in names]
            cells += [
                _cell(sample.get("postgresql_shared_mb")),
                _cell(sample["lag"]),
                f"{reading['p50_ms']} / {reading['p99_ms']}" if reading else "",
                f"{reading['requests_per_s']}" if reading else "",
                f"{reading['errors']}" if reading else "",
                f"{sample['acknowledged'] / period:.0f}" if sample["period"] else "",
                f"{sample['load_average']}",
            ]
            out.append("| " + " | ".join(cells) + " |")
        out.append("\n## Open file descriptors\n")
        out.append("| minute | " + " | ".join(_short(n) for n in names) + " | PostgreSQL backends |")
        out.append("|---:|" + "---:|" * (len(names) + 1))
        for sample in samples:
            cells = [f"{sample['seconds'] / 60:.1f}{' w' if sample['warmup'] else ''}"]
            cells += [_cell(sample["fds"].get(n)) for n in names] + [_cell(sample["postgresql_backends"])]
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def _readers_during(measured: dict[str, Any]) -> str:
    readers = measured.get("readers")
    if not readers:
        return ""
    return (
        f", while {readers['clients']} readers read the list: {readers['requests']} requests, "
        f"{readers['errors']} errors, p99 ≤ {readers['p99_ms_worst_round']} ms"
    )


def _cell(value: float | None) -> str:
    return "—" if value is None else str(value) if isinstance(value, int) else f"{value:.1f}"


def plot(report: dict[str, Any], path: Path) -> None:
    """Three panels over the minutes: each process's RSS (MB), the same relative to its start after
    warm-up (the verdict's 5 % drawn), and the consumer lag (its limit drawn: the start after
    warm-up plus one period's events); warm-up shaded."""
    import matplotlib  # noqa: PLC0415  (only the writer needs it)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.ticker import ScalarFormatter  # noqa: PLC0415

    samples, v = report["samples"], report["verdict"]
    minutes = [s["seconds"] / 60 for s in samples]
    warmup = report["settings"]["warmup_minutes"]
    figure, (absolute, relative, lag) = plt.subplots(3, 1, figsize=(11, 11), sharex=True)
    names = list(samples[0]["rss_mb"]) if samples else []
    for name in names:
        values = [_nan(s["rss_mb"].get(name)) for s in samples]
        (line,) = absolute.plot(minutes, values, marker=".", label=_short(name))
        if start := v["memory_mb"].get(name, {}).get("start"):
            relative.plot(minutes, [100 * (x - start) / start for x in values], marker=".", color=line.get_color())
    pool = [_nan(s.get("postgresql_shared_mb")) for s in samples]
    absolute.plot(minutes, pool, linestyle="--", color="grey", label="postgresql buffer pool (not judged)")
    absolute.set_yscale("log")
    for axis in (absolute.yaxis.set_major_formatter, absolute.yaxis.set_minor_formatter):
        axis(ScalarFormatter())
    absolute.set_ylabel("RSS (MB, log scale)")
    absolute.legend(fontsize="small", ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    relative.axhline(5, color="red", linestyle="--", linewidth=1, label="+5 %: the limit")
    relative.set_ylabel("RSS vs. its start after warm-up (%)")
    relative.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    lag.plot(minutes, [_nan(s["lag"]) for s in samples], marker=".", color="black", label="consumer lag")
    if v["lag"]:
        limit = v["lag"]["start"] + v["lag"]["bound"]
        lag.axhline(limit, color="red", linestyle="--", linewidth=1, label="the limit: start + one period's events")
    lag.set_ylabel("lag (events)")
    lag.set_xlabel("minutes since the load began")
    lag.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    for axis in (absolute, relative, lag):
        axis.axvspan(0, warmup, color="grey", alpha=0.15)
        axis.grid(True, alpha=0.3)
    verdict = "passed" if v["passed"] else "FAILED"
    figure.suptitle(
        f"Soak {report['started']}: {report.get('rate', '?')} events/s, {report['settings']['readers']} readers "
        f"— {verdict} (grey: warm-up)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


# --------------------------------------------------------------------------- command line


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30, help="the load's length, warm-up included")
    parser.add_argument("--warmup-minutes", type=float, default=5, help="recorded, not judged")
    parser.add_argument("--sample-seconds", type=float, default=60)
    parser.add_argument("--readers", type=int, default=20, help="clients reading the gateway's instance list")
    parser.add_argument("--rate", type=float, default=None, help="events/s; default: half the measured end-to-end")
    parser.add_argument("--measure-seconds", type=float, default=60, help="posting time of the rate's measurement")
    parser.add_argument("--store", choices=["postgresql", "sqlite"], default="postgresql", help="FerretDB backend")
    parser.add_argument("--brokers", type=int, choices=[1, 3], default=1, help="Kafka nodes (3: a KRaft cluster)")
    args = parser.parse_args(argv)
    total, warmup = periods(args)
    if total - warmup < 2:
        parser.error("at least 2 samples after warm-up are needed: raise --minutes or lower --sample-seconds")
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    report = asyncio.run(interruptible(run(args)))
    paths = written(report, full=args.minutes >= FULL_MINUTES and report.get("aborted") != INTERRUPTED)
    sys.stdout.write(paths[1].read_text())
    where = ", ".join(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in paths)
    say(f"written {where}")
    for failure in report["verdict"]["failures"]:
        say(f"FAILED: {failure}")
    if report.get("aborted") == INTERRUPTED:
        return 130
    return 0 if report["verdict"]["passed"] else 1


async def interruptible(work: Any) -> dict[str, Any]:
    """`work`, cancelled by SIGTERM or SIGHUP as by Ctrl-C, so its clean-up runs either way."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(number, task.cancel)
    result: dict[str, Any] = await task
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
