"""The benchmark report: the machine it ran on, the Markdown summary, the files under bench/results/."""

from __future__ import annotations

import json
import os
import platform as host
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from harness import ROOT

RESULTS = ROOT / "bench" / "results"


def machine(store: str) -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        host.processor(),
    )
    kafka_pom = (ROOT / "deploy" / "local" / "kafka" / "pom.xml").read_text()
    kafka_version = kafka_pom.split("<kafka.version>")[1].split("<")[0] if "<kafka.version>" in kafka_pom else "?"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": sys.version.split()[0],
        "os": host.platform(),
        "store": f"FerretDB v1.24.2 ({store} backend)",
        "kafka": kafka_version,
        "libraries": {
            name: version(name)
            for name in ("faststream", "aiokafka", "pymongo", "fastapi", "uvicorn", "pydantic", "httpx2")
        },
    }


def _cores(used: dict[str, float]) -> str:
    busy = {name: cores for name, cores in sorted(used.items(), key=lambda kv: -kv[1]) if cores >= 0.01}
    return ", ".join(f"{name} {cores:.2f}" for name, cores in busy.items()) + f" (total {sum(busy.values()):.2f})"


def markdown(report: dict[str, Any]) -> str:
    m, out = report["machine"], []
    out.append(f"# Benchmarks — {report['started']}\n")
    out.append(
        f"{m['cores']} cores ({m['cpu']}), {m['memory_gb']} GiB; Python {m['python']}; {m['store']}; "
        f"Kafka {m['kafka']}; " + ", ".join(f"{k} {v}" for k, v in m["libraries"].items()) + ".\n"
    )
    out.append(f"Arguments: `{report['arguments']}`; took {report['seconds']:.0f} s.\n")
    for key, error in report.get("failed", {}).items():
        out.append(f"**{key} failed**: `{error}`\n")
    out.extend(_goals(report))
    if "ingest_http" in report:
        h = report["ingest_http"]
        out.append("## 1. Ingest throughput\n")
        out.append(
            "| path | events | seconds | events/s | raw pipe events/s | ratio (goal ≥ 0.8) |\n"
            "|---|---:|---:|---:|---:|---:|"
        )
        out.append(
            f"| terminals → ingest endpoint → Kafka → consumer → store | {h['stored']} | {h['seconds_until_stored']} "
            f"| {h['events_per_s']} | {h['raw']['events_per_s']} | {h['ratio_to_raw']} |"
        )
        if "ingest_kafka" in report:
            k = report["ingest_kafka"]
            out.append(
                f"| producers → Kafka → consumer → store | {k['service']['events']} | {k['service']['seconds']} "
                f"| {k['service']['events_per_s']} | {k['raw']['events_per_s']} | {k['ratio_to_raw']} |"
            )
        out.append(
            f"\nThe ingest endpoint acknowledged {h['acknowledged']} events in {h['seconds_sending']} s "
            f"({h['acknowledged_per_s']}/s), refused {h['refused']}; all stored: {h['stored'] == h['acknowledged']}.\n"
        )
        out.append("Cores used while measuring (CPU seconds ÷ wall seconds, from /proc):\n")
        out.append(f"- end to end: {_cores(h['cores_used'])}")
        out.append(f"- its raw pipe: {_cores(h['raw']['cores_used'])}")
        if "ingest_kafka" in report:
            out.append(f"- service from Kafka: {_cores(report['ingest_kafka']['service']['cores_used'])}")
            out.append(f"- its raw pipe: {_cores(report['ingest_kafka']['raw']['cores_used'])}")
        out.append("")
        lat = h["latency"]
        out.append("## 2. Ingest-to-queryable latency\n")
        out.append(
            f"At {lat['achieved_events_per_s']} events/s (target {lat['target_events_per_s']}, half the end-to-end "
            f"rate): {lat['probes']} probes, p50 **{lat['p50_ms']} ms**, p99 **{lat['p99_ms']} ms** (goal ≤ 500), "
            f"max {lat['max_ms']} ms; not seen within 30 s: {lat['not_seen_within_30_s']}.\n"
        )
    if "search" in report:
        s = report["search"]
        out.append("## 3. Activity search\n")
        out.append(
            f"{s['events']} records of {s['terminals']} terminals over {s['days']} days "
            f"(loaded at {s['load']['events_per_s']}/s).\n"
        )
        out.append(
            "| by | samples | service p50 ms | service p99 ms (goal ≤ 50) | raw query p50 ms | raw p99 ms "
            "| items/page |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        for by in ("serial", "pin"):
            f = s[by]
            out.append(
                f"| {by} + one-day window | {f['samples']} | {f['service']['p50_ms']} | {f['service']['p99_ms']} "
                f"| {f['raw_store_query']['p50_ms']} | {f['raw_store_query']['p99_ms']} | {f['mean_items']} |"
            )
        e = s["serial"]["explain"]
        out.append(
            f"\nCollections read for one window: {', '.join(e.get('collections_read', []))}; FerretDB: "
            f"{e.get('ferretdb')}; backend plan: `{e.get('backend_plan')}`\n"
        )
    if "gateway" in report:
        out.extend(_gateway(report["gateway"]))
    if "working_time" in report:
        out.extend(_working_time(report["working_time"]))
    if "support_search" in report:
        out.extend(_support_search(report["support_search"]))
    if "webhooks" in report:
        out.extend(_webhooks(report["webhooks"]))
    out.append("## 5. Peak memory (VmHWM)\n")
    out.append("| service | peak RSS MB |\n|---|---:|")
    for name, mb in sorted(report["peak_rss_mb"].items()):
        out.append(f"| {name} | {mb:.0f} |")
    return "\n".join(out) + "\n"


def _working_time(w: dict[str, Any]) -> list[str]:
    out: list[str] = []
    out.append("## 6. Working-time record: one worker's month\n")
    out.append(
        f"{w['load']['records']} records ({w['load']['clock_events']} clock events) of {w['workers']} workers "
        f"over {w['month']}, loaded in {w['load']['seconds']} s. Service p50 {w['service']['p50_ms']} ms, "
        f"p99 **{w['service']['p99_ms']} ms** (goal ≤ 100); raw store floor (the same `_id` reads) p50 "
        f"{w['raw_store_floor']['p50_ms']} ms, p99 {w['raw_store_floor']['p99_ms']} ms: "
        f"{w['ratio_p99_to_raw']}× the floor."
    )
    if "raw_records_scan" in w:
        r = w["raw_records_scan"]
        out.append(f" The month read from the raw records instead: p50 {r['p50_ms']} ms ({r['requests']} samples).")
    out.append("\n")
    return out


COMPARED = ("instance_view", "instance_list", "thread_list")
SMALL_PAGE = ", page of 2"  # the routes counted again at a small page: constant counts do not move


def _support_search(s: dict[str, Any]) -> list[str]:
    load = s["load"]
    out = ["## 6. Support: message search and uploads (issue #21)\n"]
    out.append(
        f"{load['messages']} messages and {load['index_entries']} index entries loaded straight into the store in "
        f"{load['seconds']} s ({load['messages_per_s']} messages/s, {load['entries_per_s']} entries/s).\n"
    )
    out.append("| query | q | samples | service p50 ms | service p99 ms | raw index find p50 ms | raw p99 ms | items |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|")
    for label, f in s["search"].items():
        out.append(
            f"| {label} | `{f['q']}` | {f['samples']} | {f['service']['p50_ms']} | {f['service']['p99_ms']} "
            f"| {f['raw_index_find']['p50_ms']} | {f['raw_index_find']['p99_ms']} | {f['mean_items']} |"
        )
    u = s["uploads"]
    out.append(f"\nUploads of a {u['file_bytes']}-byte PDF:\n")
    out.append("| clients | files | MB/s | p50 s | p99 s |\n|---|---:|---:|---:|---:|")
    for key, f in u.items():
        if key.endswith("client(s)"):
            out.append(f"| {key.split('_')[0]} | {f['files']} | {f['mb_per_s']} | {f['p50_s']} | {f['p99_s']} |")
    out.append(f"\nRaw GridFS `upload_from_stream` of the same file: {u['raw_gridfs_upload']['mb_per_s']} MB/s.\n")
    return out


def _gateway(g: dict[str, Any]) -> list[str]:
    out = ["## 4. Gateway\n", f"{g['clients']} concurrent clients, {g['seconds_each']} s per target.\n"]
    out.append("| endpoint | path | req/s | p50 ms | p99 ms | errors | generator |\n|---|---|---:|---:|---:|---:|---|")
    rows: list[tuple[str, str, dict[str, Any]]] = []
    for name in (n for n in COMPARED if n in g):
        rows += [(name, path, g[name][path]) for path in ("direct", "gateway")]
    floors = g.get("floors", {})
    for key, label in (
        ("healthz_httpx", "gateway /healthz, httpx2 generator"),
        ("healthz_light", "gateway /healthz, raw asyncio generator"),
        ("store_instance_list", "store floor: the list's find, raw PyMongo"),
        ("store_thread_list", "store floor: the thread list's find, raw PyMongo"),
    ):
        if key in floors:
            rows.append(("floor", label, floors[key]))
    for name, path, f in rows:
        generator = f.get("generator", "PyMongo" if name == "floor" and "find" in f else "httpx2")
        out.append(
            f"| {name} | {path} | {f['requests_per_s']} | {f['p50_ms']} | {f['p99_ms']} | {f['errors']} | {generator} |"
        )
    if "instance_view" in g:
        view = g["instance_view"]["gateway"]
        out.append(
            f"\nComposed views answered `degraded`: {view.get('degraded', '?')} ({view.get('degraded_pct', '?')} %)."
        )
    for key in ("store_instance_list", "store_thread_list"):
        if key in floors:
            out.append(f"\n{key}: `{floors[key]['find']}` ({floors[key]['documents_per_find']} documents).")
    out.append("\nCores used (the load generator's own figure shows whether it was the limit):\n")
    for name, path, f in rows:
        out.append(f"- {name} {path}: {_cores(f['cores_used'])}")
    pairs = [n for n in COMPARED if n in g]
    if pairs:
        out.append(
            "\nGateway vs direct (direct req/s ÷ gateway req/s; gateway p99 ÷ direct p99, goal ≤ 1.2): "
            + "; ".join(f"{n} {g[n]['throughput_ratio']}×, p99 {g[n]['p99_ratio']}×" for n in pairs)
            + ".\n"
        )
    out += _store_commands(g) + _step_search(g) + _mixed(g)
    return out


def _store_commands(g: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if "store_commands" in g:
        c = g["store_commands"]
        out.append(f"### Store commands per request ({c['requests_each']} requests a route, one at a time)\n")
        out.append("| route | commands per request, by service |\n|---|---|")
        for route, by_service in c["routes"].items():
            out.append(f"| {route} | {_commands(by_service) or '0'} |")
        out.append(
            "\nCounted as each service sends them while answering requests (the work a route causes)."
            " While idle, per second (background jobs, not in the figures above): "
            f"{_commands(c['idle_per_s']) or '0'}.\n"
        )
    return out


def _step_search(g: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if "step_search" in g:
        st = g["step_search"]
        out.append(f"### Clients the list holds within p99 ≤ {st['p99_limit_ms']} ms ({st['seconds_each']} s a step)\n")
        out.append("| clients | req/s | p50 ms | p99 ms | errors |\n|---:|---:|---:|---:|---:|")
        for step in st["steps"]:
            figures = (step[k] for k in ("clients", "requests_per_s", "p50_ms", "p99_ms", "errors"))
            out.append("| " + " | ".join(str(f) for f in figures) + " |")
        out.append(f"\nHighest: **{st['highest_clients'] or 'none of the steps'}** clients.\n")
    return out


def _mixed(g: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if "mixed" in g:
        m = g["mixed"]
        out.append(f"### Mixed load: {m['readers']} readers of the list, {m['terminals']} terminals posting\n")
        out.append("| readers | req/s | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|")
        for label, key in (("alone", "readers_alone"), ("while terminals post", "readers_with_ingest")):
            f = m[key]
            out.append(f"| {label} | {f['requests_per_s']} | {f['p50_ms']} | {f['p99_ms']} | {f['errors']} |")
        out.append(
            f"\nTerminals: {m['events_acknowledged']} events acknowledged, {m['batches_refused']} batches refused. "
            f"Errors in all: {m['errors']}; readers' p99 with ingest ÷ alone: {m['p99_ratio']}×.\n"
        )
        out.append(f"- readers alone: {_cores(m['readers_alone']['cores_used'])}")
        out.append(f"- with terminals: {_cores(m['readers_with_ingest']['cores_used'])}\n")
    return out


def _commands(by_service: dict[str, dict[str, float]]) -> str:
    return "; ".join(
        f"{service} " + ", ".join(f"{command} {count}" for command, count in sorted(counts.items()))
        for service, counts in sorted(by_service.items())
    )


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


Goal = tuple[str, str, str, bool | None]
"""A row of the goals' table: figure, measured, goal, met (None: a figure without a pass mark)."""


def _goals(report: dict[str, Any]) -> list[str]:
    """Issue #17's goals, each beside what this run measured (same-run ratios)."""
    g = report.get("gateway", {})
    rows = _store_command_goals(g) + _gateway_goals(g) + _pipeline_goals(report) + _figures(g)
    if not rows:
        return []
    out = ["## Goals of issue #17 (this run)\n", "| figure | measured | goal | met |\n|---|---:|---|---|"]
    out += [f"| {figure} | {measured} | {goal} | {_met(ok)} |" for figure, measured, goal, ok in rows]
    return [*out, ""]


def _store_command_goals(g: dict[str, Any]) -> list[Goal]:
    rows: list[Goal] = []
    routes = g.get("store_commands", {}).get("routes", {})
    if routes:
        behind = [r for r in routes if r.endswith("(gateway)") and not r.startswith("healthz")]
        own = {r: sum(routes[r].get("gateway", {}).values()) for r in behind if SMALL_PAGE not in r}
        rows.append(
            (
                "store commands per request: the gateway's own (auth)",
                ", ".join(f"{r.removesuffix(' (gateway)')} {n:g}" for r, n in own.items()),
                "0",
                all(n == 0 for n in own.values()),
            )
        )
        for route in (r for r in behind if SMALL_PAGE not in r):
            services = {s: c for s, c in routes[route].items() if s != "gateway"}
            total = sum(sum(c.values()) for c in services.values())
            small = routes.get(route.replace(" (gateway)", f"{SMALL_PAGE} (gateway)"))
            # Whole commands: a background job's few commands spread over the counted requests are no change.
            small_total = None if small is None else sum(sum(c.values()) for s, c in small.items() if s != "gateway")
            constant = None if small_total is None else round(total) == round(small_total)
            rows.append(
                (
                    f"store commands per request behind the gateway: {route.removesuffix(' (gateway)')} "
                    "(constant: the same at a page of 2)",
                    f"{total:g} ({_commands(services)})",
                    "constant, stated",
                    constant,
                )
            )
    return rows


def _gateway_goals(g: dict[str, Any]) -> list[Goal]:
    rows: list[Goal] = []
    floors = g.get("floors", {})
    for name, floor in (("instance_list", "store_instance_list"), ("thread_list", "store_thread_list")):
        if name not in g:
            continue
        p99 = g[name]["gateway"]["p99_ms"]
        rows.append((f"gateway {name} p99, {g['clients']} clients", f"{p99} ms", "≤ 100 ms", p99 <= 100))
        rows.append(
            (f"{name}: gateway p99 ÷ service direct", f"{g[name]['p99_ratio']}×", "≤ 1.2×", g[name]["p99_ratio"] <= 1.2)
        )
        if floor in floors:
            ratio = round(g[name]["direct"]["p99_ms"] / floors[floor]["p99_ms"], 2)
            rows.append((f"{name}: service direct p99 ÷ raw store floor", f"{ratio}×", "≤ 1.3×", ratio <= 1.3))
    if "instance_view" in g:
        view = g["instance_view"]["gateway"]
        ok = view["p99_ms"] <= 150 and view.get("degraded", 1) == 0
        rows.append(
            (
                "gateway instance view p99, degraded",
                f"{view['p99_ms']} ms, {view.get('degraded_pct', '?')} %",
                "≤ 150 ms, 0 %",
                ok,
            )
        )
    if "mixed" in g:
        m = g["mixed"]
        rows.append(
            (
                f"mixed load ({m['readers']} readers, {m['terminals']} terminals): errors",
                str(m["errors"]),
                "0",
                m["errors"] == 0,
            )
        )
        rows.append(("mixed load: readers' p99 ÷ without ingest", f"{m['p99_ratio']}×", "≤ 2×", m["p99_ratio"] <= 2))
    return rows


def _pipeline_goals(report: dict[str, Any]) -> list[Goal]:
    rows: list[Goal] = []
    if "ingest_http" in report:
        h = report["ingest_http"]
        rows.append(
            ("terminals → HTTP → Kafka → store ÷ raw pipe", f"{h['ratio_to_raw']}×", "≥ 0.8×", h["ratio_to_raw"] >= 0.8)
        )
        p99 = h["latency"]["p99_ms"]
        rows.append(("ingest-to-queryable p99 at half the end-to-end rate", f"{p99} ms", "≤ 500 ms", p99 <= 500))
    if "ingest_kafka" in report:
        k = report["ingest_kafka"]["ratio_to_raw"]
        rows.append(("Kafka → store ÷ raw pipe", f"{k}×", "≥ 0.9×", k >= 0.9))
    if "search" in report:
        s = report["search"]
        for by in ("serial", "pin"):
            p99 = s[by]["service"]["p99_ms"]
            rows.append((f"search {by} + one day, {s['events']} records: p99", f"{p99} ms", "≤ 50 ms", p99 <= 50))
    if "working_time" in report:
        p99 = report["working_time"]["service"]["p99_ms"]
        rows.append(("working-time month of one worker, 1 M records: p99", f"{p99} ms", "≤ 100 ms", p99 <= 100))
    if report.get("peak_rss_mb"):
        name, mb = max(report["peak_rss_mb"].items(), key=lambda kv: kv[1])
        rows.append(("peak RSS per process (the highest)", f"{name} {mb:.0f} MB", "≤ 150 MB", mb <= 150))
    return rows


def _figures(g: dict[str, Any]) -> list[Goal]:
    """Figures without a pass mark: the list's capacity, the framework's floor."""
    rows: list[Goal] = []
    floors = g.get("floors", {})
    if "step_search" in g:
        rows.append(
            (
                "most clients keeping the list's p99 ≤ 200 ms",
                str(g["step_search"]["highest_clients"] or "none"),
                "(figure)",
                None,
            )
        )
    for key, label in (("healthz_light", "raw asyncio"), ("healthz_httpx", "httpx2")):
        if key in floors:
            f = floors[key]
            rows.append(
                (
                    f"framework floor: gateway /healthz ({label} generator)",
                    f"{f['requests_per_s']} req/s, p99 {f['p99_ms']} ms",
                    "(floor)",
                    None,
                )
            )
    return rows


def write_results(report: dict[str, Any]) -> Path:
    """The report as bench/results/<UTC time>.json and .md, and as latest.json and .md; the first .md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = markdown(report)
    for name in (stamp, "latest"):
        (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
        (RESULTS / f"{name}.md").write_text(text)
    return RESULTS / f"{stamp}.md"


def _webhooks(w: dict[str, Any]) -> list[str]:
    b, p, r = w["burst"], w["paced"], w["raw"]
    return [
        "## Webhook deliveries (#19)\n",
        f"{w['events']} events on Kafka for {w['subscriptions']} subscriptions (one request at a time each):\n",
        "| path | deliveries | seconds | deliveries/s | ratio to raw |",
        "|---|---:|---:|---:|---:|",
        f"| Kafka → dispatcher → signed POST → receiver | {b['deliveries']} | {b['seconds']} | {b['deliveries_per_s']} "
        f"| {w['ratio_to_raw']} |",
        f"| raw: the receiver POSTed directly, same streams | {r['deliveries']} | {r['seconds']} "
        f"| {r['deliveries_per_s']} | 1 |",
        "",
        f"All delivered: {b['complete']} ({b['requests']} requests). "
        f"Cores during the burst: {_cores(b['cores_used'])}.\n",
        f"Delivery delay after the event is on Kafka, at {p['events_per_s']} events/s for {p['events']} events: "
        f"p50 **{p['p50_ms']} ms**, p99 **{p['p99_ms']} ms**, max {p['max_ms']} ms ({p['deliveries']} deliveries).\n",
    ]
