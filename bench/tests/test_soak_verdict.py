"""The soak's verdict (bench/soak_verdict.py): what fails, what only warns, what noise it lets pass."""

from __future__ import annotations

import pytest

from soak_verdict import ends, judge, slope

pytestmark = pytest.mark.unit

TIMES = [60.0 * n for n in range(1, 11)]
BOUND = 60_000  # one minute of events at 1 000 events/s


def flat(value: float, noise: float = 0.0) -> list[float | None]:
    return [value + (noise if n % 2 else -noise) for n in range(len(TIMES))]


def test_steady_processes_and_a_consumer_that_keeps_up_pass() -> None:
    verdict = judge(TIMES, {"gateway": flat(120, 2), "kafka": flat(900, 20)}, flat(1500, 1000), lag_bound=BOUND)
    assert verdict.passed, verdict.failures
    assert verdict.memory["gateway"].start == pytest.approx(118)
    assert verdict.lag is not None
    assert not verdict.lag.unbounded


def test_a_process_growing_more_than_5_percent_fails_and_is_named() -> None:
    leaking = [100.0 + n for n in range(len(TIMES))]  # 101 → 108 between the windows' medians
    verdict = judge(TIMES, {"gateway": flat(120), "support": leaking}, flat(0), lag_bound=BOUND)
    assert not verdict.passed
    assert len(verdict.failures) == 1
    assert verdict.failures[0].startswith("support: RSS grew 6.9 %")


def test_growth_within_5_percent_passes() -> None:
    verdict = judge(TIMES, {"support": [100.0 + 0.5 * n for n in range(len(TIMES))]}, flat(0), lag_bound=BOUND)
    assert verdict.passed
    assert verdict.memory["support"].growth_pct == pytest.approx(3.5)


def test_one_spike_in_a_window_does_not_fail() -> None:
    spiky: list[float | None] = flat(100)
    spiky[-1] = 160  # one sample at a collector's high point: the median of the last three ignores it
    assert judge(TIMES, {"kafka": spiky}, flat(0), lag_bound=BOUND).passed


def test_a_process_that_exited_fails() -> None:
    gone: list[float | None] = [*flat(100)[:5], None, None, None, None, None]
    verdict = judge(TIMES, {"reports": gone}, flat(0), lag_bound=BOUND)
    assert verdict.failures == ["reports: no memory figure in 5 of 10 samples (exited?)"]


def test_a_lag_growing_by_more_than_a_period_of_events_fails() -> None:
    lag = [10_000.0 * n for n in range(len(TIMES))]  # the consumer falls behind by 10 000 a minute
    verdict = judge(TIMES, {}, lag, lag_bound=BOUND)
    assert not verdict.passed
    assert verdict.failures[0].startswith("consumer lag grows without bound: 10000 → 80000")
    assert verdict.lag is not None
    assert verdict.lag.slope_per_s == pytest.approx(166.67, abs=0.01)


def test_a_lag_growing_by_less_than_a_period_of_events_passes() -> None:
    lag = [5000.0 * n for n in range(len(TIMES))]  # rising every sample, 35 000 in all: under a minute's events
    assert judge(TIMES, {}, lag, lag_bound=BOUND).passed


def test_a_high_level_lag_passes() -> None:
    """A backlog left from the warm-up that stays level, with noise: bounded, so it passes."""
    assert judge(TIMES, {}, flat(120_000, 3000), lag_bound=BOUND).passed


def test_a_high_lag_that_shrinks_passes() -> None:
    lag = [200_000.0 - 15_000 * n for n in range(len(TIMES))]  # catching up after warm-up
    assert judge(TIMES, {}, lag, lag_bound=BOUND).passed


def test_lag_not_measured_fails() -> None:
    verdict = judge(TIMES, {}, [None] * len(TIMES), lag_bound=BOUND)
    assert verdict.failures == ["lag measured in 0 of 10 samples after warm-up"]


def test_too_few_samples_fail() -> None:
    verdict = judge([60.0], {"gateway": [100.0]}, [0.0], lag_bound=BOUND)
    assert not verdict.passed


def test_fd_growth_and_errors_warn_without_failing() -> None:
    verdict = judge(
        TIMES,
        {"gateway": flat(100)},
        flat(0),
        lag_bound=BOUND,
        fds={"gateway": [40.0 + 5 * n for n in range(len(TIMES))], "kafka": flat(300, 4)},
        errors={"list requests failed": 3, "ingest batches refused": 0},
    )
    assert verdict.passed
    assert verdict.warnings == ["gateway: open file descriptors 45 → 80", "list requests failed: 3"]


def test_windows_are_a_fifth_of_many_samples() -> None:
    values = [float(n) for n in range(25)]
    assert (ends(values).start, ends(values).end) == (2.0, 22.0)  # medians of 0-4 and 20-24


def test_windows_shrink_with_few_samples() -> None:
    assert (ends([1.0, 2.0, 3.0, 4.0]).start, ends([1.0, 2.0, 3.0, 4.0]).end) == (1.5, 3.5)
    assert (ends([5.0, 7.0]).start, ends([5.0, 7.0]).end) == (5.0, 7.0)


def test_slope() -> None:
    assert slope([0.0, 1.0, 2.0], [1.0, 3.0, 5.0]) == pytest.approx(2.0)
    assert slope([0.0], [1.0]) == 0.0


def test_as_dict_is_plain() -> None:
    result = judge(TIMES, {"gateway": flat(100)}, flat(0), lag_bound=BOUND).as_dict()
    assert result["passed"] is True
    assert result["memory_mb"]["gateway"] == {"start": 100.0, "end": 100.0, "growth_pct": 0.0}
    assert result["lag"]["unbounded"] is False
