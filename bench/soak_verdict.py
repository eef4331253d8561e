"""The soak's verdict (bench/soak.py): a pure function of the samples taken after warm-up.

The warm-up's samples are recorded, never judged: caches fill, pools open, the JVM and the
allocators settle. Over the samples after it:

- **memory**: a process's resident memory at the start is the median of the first samples after
  warm-up, at the end the median of the last ones; it fails when the end is more than 5 % above the
  start. A window is a fifth of the judged samples, at least `WINDOW` (3), at most half of them (at
  least one): 5 samples (5 minutes) each in a 30-minute soak with 5 of warm-up sampled every
  minute. Medians over windows, so that samples taken at a garbage collector's high point or in the
  middle of a batch (FerretDB's Go heap swings by 10-20 % from one sample to the next) neither make
  nor hide a failure. A process without a figure in a sample (it exited) fails.
- **lag** (the activity consumer group's on the telemetry topic, start and end as for memory)
  fails as "growing without bound" when it grew from the start to the end by more than
  `lag_bound`, one sample period's worth of events at the soak's rate. A consumer that keeps up
  holds its lag: a batch or two, or a backlog left from the warm-up that stays level (given, not
  judged); its noise (batches of up to 2 000 events committed at once) stays far below a period's
  events. One that falls behind by a fraction f of the rate piles up f × rate × T over the T
  seconds after warm-up, so the rule catches any f above sample period / T (a 30-minute soak with
  5 of warm-up, sampled every minute: 4 % of the rate). A lag that shrinks (catching up after
  warm-up) passes. The least-squares slope of the lag (events/s) is given beside, not judged.
- **warnings** (named, never failing): open file descriptors of a process grown by more than
  `FD_GROWTH` (10 %) and more than `FD_SLACK` (10 descriptors) from start to end, as medians like
  memory; and any count in `errors` above zero (list requests that failed, ingest batches refused).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

WINDOW = 3
MEMORY_GROWTH = 0.05
FD_GROWTH, FD_SLACK = 0.10, 10


@dataclass(frozen=True)
class Growth:
    """One process's figure at the start and at the end of the judged samples."""

    start: float
    end: float

    @property
    def growth_pct(self) -> float:
        return round(100 * (self.end - self.start) / self.start, 1) if self.start else 0.0


@dataclass(frozen=True)
class Lag:
    start: float
    end: float
    bound: float
    slope_per_s: float
    unbounded: bool


@dataclass
class Verdict:
    memory: dict[str, Growth] = field(default_factory=dict)
    fds: dict[str, Growth] = field(default_factory=dict)
    lag: Lag | None = None
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failures": self.failures,
            "warnings": self.warnings,
            "memory_mb": {name: {**asdict(g), "growth_pct": g.growth_pct} for name, g in self.memory.items()},
            "fds": {name: {**asdict(g), "growth_pct": g.growth_pct} for name, g in self.fds.items()},
            "lag": asdict(self.lag) if self.lag else None,
        }


def ends(values: Sequence[float]) -> Growth:
    """The median of the first and of the last values: a fifth of them each, at least `WINDOW`, at
    most half of them, at least one."""
    if not values:
        raise ValueError("no values")
    window = max(1, min(max(WINDOW, len(values) // 5), len(values) // 2))
    return Growth(statistics.median(values[:window]), statistics.median(values[-window:]))


def slope(times: Sequence[float], values: Sequence[float]) -> float:
    """Least-squares slope of `values` over `times` (0 for fewer than two points)."""
    if len(values) < 2:
        return 0.0
    mean_t, mean_v = statistics.fmean(times), statistics.fmean(values)
    spread = sum((t - mean_t) ** 2 for t in times)
    return sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values, strict=True)) / spread if spread else 0.0


def judge(
    times: Sequence[float],
    rss_mb: Mapping[str, Sequence[float | None]],
    lag: Sequence[float | None],
    *,
    lag_bound: float,
    fds: Mapping[str, Sequence[float | None]] | None = None,
    errors: Mapping[str, int] | None = None,
) -> Verdict:
    """The verdict over the samples after warm-up: `times` (seconds) and, per process, its RSS and
    open descriptors at each of them (None: no figure), the lag at each (None: not measured)."""
    verdict = Verdict()
    if len(times) < 2:
        verdict.failures.append(f"{len(times)} sample(s) after warm-up: at least 2 are needed to judge")
        return verdict
    for name, series in rss_mb.items():
        missing = sum(value is None for value in series)
        if missing:
            verdict.failures.append(f"{name}: no memory figure in {missing} of {len(series)} samples (exited?)")
            continue
        growth = verdict.memory[name] = ends([value for value in series if value is not None])
        if growth.end > growth.start * (1 + MEMORY_GROWTH):
            verdict.failures.append(
                f"{name}: RSS grew {growth.growth_pct} % after warm-up ({growth.start:.1f} → {growth.end:.1f} MB; "
                f"limit {100 * MEMORY_GROWTH:.0f} %)"
            )
    for name, series in (fds or {}).items():
        known = [value for value in series if value is not None]
        if not known:
            continue
        growth = verdict.fds[name] = ends(known)
        if growth.end > growth.start * (1 + FD_GROWTH) and growth.end - growth.start > FD_SLACK:
            verdict.warnings.append(f"{name}: open file descriptors {growth.start:.0f} → {growth.end:.0f}")
    measured = [(t, value) for t, value in zip(times, lag, strict=True) if value is not None]
    if len(measured) < 2:
        verdict.failures.append(f"lag measured in {len(measured)} of {len(lag)} samples after warm-up")
    else:
        lag_ends = ends([value for _, value in measured])
        unbounded = lag_ends.end - lag_ends.start > lag_bound
        verdict.lag = Lag(
            lag_ends.start,
            lag_ends.end,
            lag_bound,
            round(slope([t for t, _ in measured], [value for _, value in measured]), 2),
            unbounded,
        )
        if unbounded:
            verdict.failures.append(
                f"consumer lag grows without bound: {lag_ends.start:.0f} → {lag_ends.end:.0f} events after warm-up, "
                f"up by more than one sample period's events ({lag_bound:.0f})"
            )
    for what, count in (errors or {}).items():
        if count:
            verdict.warnings.append(f"{what}: {count}")
    return verdict
