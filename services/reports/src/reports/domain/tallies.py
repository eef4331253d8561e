"""Chart figures computed from the read model: counts by type (WDS split by profile, R-33),
monthly activations and cancellations, operations per day, instance and type (R-04).

Tallies take items one at a time, so a query streams the documents through them instead of
holding them all."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from reports.domain.model import (
    INSTANCE_TYPES,
    ActivityBucket,
    InstanceStatus,
    InstanceView,
    LicenseStatus,
    LicenseView,
    Period,
    month_of,
)

UNKNOWN = "unknown"


def _zeros(keys: tuple[str, ...] | list[str]) -> dict[str, int]:
    return dict.fromkeys(keys, 0)


@dataclass
class SummaryTally:
    today: date
    instances: int = 0
    instances_by_type: dict[str, int] = field(default_factory=lambda: _zeros(INSTANCE_TYPES))
    wds_by_profile: dict[str, int] = field(default_factory=dict)
    instances_by_status: dict[str, int] = field(default_factory=lambda: _zeros([s.value for s in InstanceStatus]))
    licenses: int = 0
    licenses_by_type: dict[str, int] = field(default_factory=lambda: _zeros(INSTANCE_TYPES))
    licenses_by_status: dict[str, int] = field(default_factory=lambda: _zeros([s.value for s in LicenseStatus]))

    def add_instance(self, instance: InstanceView) -> None:
        self.instances += 1
        self.instances_by_type[instance.type] = self.instances_by_type.get(instance.type, 0) + 1
        if instance.type == "WDS":
            profile = instance.profile or UNKNOWN
            self.wds_by_profile[profile] = self.wds_by_profile.get(profile, 0) + 1
        status = instance.status(self.today).value
        self.instances_by_status[status] += 1

    def add_license(self, license_: LicenseView) -> None:
        self.licenses += 1
        kind = license_.instance_type or UNKNOWN
        self.licenses_by_type[kind] = self.licenses_by_type.get(kind, 0) + 1
        if license_.status is not None:
            self.licenses_by_status[license_.status.value] += 1


@dataclass
class MonthFigures:
    month: str
    activations: int = 0
    cancellations: int = 0
    activations_by_type: dict[str, int] = field(default_factory=lambda: _zeros(INSTANCE_TYPES))
    cancellations_by_type: dict[str, int] = field(default_factory=lambda: _zeros(INSTANCE_TYPES))


class MonthlyTally:
    """Activations by the month of the activation date; cancellations by the month the
    cancellation was requested (UTC)."""

    def __init__(self, period: Period) -> None:
        self.months = {month: MonthFigures(month) for month in period.months()}

    def add_instance(self, instance: InstanceView) -> None:
        if instance.activation_date is not None and (figures := self.months.get(month_of(instance.activation_date))):
            figures.activations += 1
            figures.activations_by_type[instance.type] = figures.activations_by_type.get(instance.type, 0) + 1
        requested = instance.cancellation_requested_at
        if requested is not None and (figures := self.months.get(month_of(requested))):
            figures.cancellations += 1
            figures.cancellations_by_type[instance.type] = figures.cancellations_by_type.get(instance.type, 0) + 1

    def series(self) -> list[MonthFigures]:
        return list(self.months.values())


@dataclass
class OperationRow:
    """Operations of one instance on one day."""

    day: date
    instance_id: str
    partner_id: str
    total: int = 0
    by_action: dict[str, int] = field(default_factory=dict)


@dataclass
class DayFigures:
    day: date
    total: int = 0
    by_type: dict[str, int] = field(default_factory=lambda: _zeros(INSTANCE_TYPES))


class OperationsTally:
    """Adds up activity buckets (one per day and partition) into rows per day and instance."""

    def __init__(self, period: Period, partner_ids: tuple[str, ...]) -> None:
        self.period = period
        self.partner_ids = frozenset(partner_ids)
        self.rows: dict[tuple[date, str], OperationRow] = {}

    def add_bucket(self, bucket: ActivityBucket) -> None:
        if not self.period.first <= bucket.day <= self.period.last:
            return
        for key, count in bucket.counts.items():
            if key.partner_id not in self.partner_ids:
                continue
            row = self.rows.get((bucket.day, key.instance_id))
            if row is None:
                row = self.rows[(bucket.day, key.instance_id)] = OperationRow(
                    bucket.day, key.instance_id, key.partner_id
                )
            row.total += count
            row.by_action[key.action] = row.by_action.get(key.action, 0) + count

    def instance_ids(self) -> set[str]:
        return {instance_id for _, instance_id in self.rows}

    def sorted_rows(self) -> list[OperationRow]:
        return [self.rows[key] for key in sorted(self.rows)]


def days_series(rows: list[OperationRow], types: dict[str, str], period: Period) -> list[DayFigures]:
    """Totals per day, split by the instance's type (`unknown` until its instance is known)."""
    days = {day: DayFigures(day) for day in period.days()}
    for row in rows:
        figures = days[row.day]
        kind = types.get(row.instance_id) or UNKNOWN
        figures.total += row.total
        figures.by_type[kind] = figures.by_type.get(kind, 0) + row.total
    return list(days.values())
