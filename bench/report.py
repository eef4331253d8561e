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
            for name in ("faststream", "aiokafka", "pymongo", "fastapi", "uvicorn", "pydantic", "httpx")
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
            f"rate): {lat['probes']} probes, p50 **{lat['p50_ms']} ms**, p99 **{lat['p99_ms']} ms** (goal ≤ 1000), "
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
        g = report["gateway"]
        out.append("## 4. Gateway\n")
        out.append(f"{g['clients']} concurrent clients, {g['seconds_each']} s per target.\n")
        out.append("| endpoint | path | req/s | p50 ms | p99 ms | errors |\n|---|---|---:|---:|---:|---:|")
        for name in ("instance_view", "instance_list"):
            for path in ("direct", "gateway"):
                f = g[name][path]
                out.append(
                    f"| {name} | {path} | {f['requests_per_s']} | {f['p50_ms']} | {f['p99_ms']} | {f['errors']} |"
                )
        out.append("\nCores used:\n")
        for name in ("instance_view", "instance_list"):
            for path in ("direct", "gateway"):
                out.append(f"- {name} {path}: {_cores(g[name][path]['cores_used'])}")
        out.append(
            "\nOverhead (direct req/s ÷ gateway req/s; goal ≤ 1.3): "
            + "; ".join(
                f"{n} {g[n]['throughput_ratio']}×, p99 {g[n]['p99_ratio']}×" for n in ("instance_view", "instance_list")
            )
            + ".\n"
        )
    out.append("## 5. Peak memory (VmHWM)\n")
    out.append("| service | peak RSS MB |\n|---|---:|")
    for name, mb in sorted(report["peak_rss_mb"].items()):
        out.append(f"| {name} | {mb:.0f} |")
    return "\n".join(out) + "\n"


def write_results(report: dict[str, Any]) -> Path:
    """The report as bench/results/<UTC time>.json and .md, and as latest.json and .md; the first .md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = markdown(report)
    for name in (stamp, "latest"):
        (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
        (RESULTS / f"{name}.md").write_text(text)
    return RESULTS / f"{stamp}.md"
