"""Chart figures computed from the read model: counts by type (WDS split by profile, R-33),
monthly activations and cancellations, operations per day, instance and type (R-04).

Tallies take counted groups (`InstanceGroup`, `LicenseGroup`, `MonthCount`, `OperationCount`): the
store counts its documents by the charts' keys in one aggregation each, so a chart costs the same
few store commands however many instances, licenses and events the read model holds."""

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


@dataclass(frozen=True)
class InstanceGroup:
    """How many instances share a type, a profile and today's status."""

    type: str
    profile: str | None
    status: InstanceStatus
    count: int


@dataclass(frozen=True)
class LicenseGroup:
    """How many licenses share their instance's type (None until it is known) and their own status."""

    instance_type: str | None
    status: LicenseStatus | None
    count: int


@dataclass(frozen=True)
class MonthCount:
    """Activations (by the activation date's month) or cancellation requests (by the month requested,
    UTC) of one type in one month."""

    kind: str  # "activations" | "cancellations"
    month: str
    type: str
    count: int


@dataclass(frozen=True)
class OperationCount:
    """Operations of one action by one instance on one day."""

    day: date
    instance_id: str
    partner_id: str
    action: str
    count: int


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
        self.add_instances(InstanceGroup(instance.type, instance.profile, instance.status(self.today), 1))

    def add_instances(self, group: InstanceGroup) -> None:
        self.instances += group.count
        self.instances_by_type[group.type] = self.instances_by_type.get(group.type, 0) + group.count
        if group.type == "WDS":
            profile = group.profile or UNKNOWN
            self.wds_by_profile[profile] = self.wds_by_profile.get(profile, 0) + group.count
        self.instances_by_status[group.status.value] += group.count

    def add_license(self, license_: LicenseView) -> None:
        self.add_licenses(LicenseGroup(license_.instance_type, license_.status, 1))

    def add_licenses(self, group: LicenseGroup) -> None:
        self.licenses += group.count
        kind = group.instance_type or UNKNOWN
        self.licenses_by_type[kind] = self.licenses_by_type.get(kind, 0) + group.count
        if group.status is not None:
            self.licenses_by_status[group.status.value] += group.count


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
        if instance.activation_date is not None:
            self.add_count(MonthCount("activations", month_of(instance.activation_date), instance.type, 1))
        requested = instance.cancellation_requested_at
        if requested is not None:
            self.add_count(MonthCount("cancellations", month_of(requested), instance.type, 1))

    def add_count(self, count: MonthCount) -> None:
        figures = self.months.get(count.month)
        if figures is None:
            return
        if count.kind == "activations":
            figures.activations += count.count
            figures.activations_by_type[count.type] = figures.activations_by_type.get(count.type, 0) + count.count
        else:
            figures.cancellations += count.count
            figures.cancellations_by_type[count.type] = figures.cancellations_by_type.get(count.type, 0) + count.count

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
        for key, count in bucket.counts.items():
            self.add_count(OperationCount(bucket.day, key.instance_id, key.partner_id, key.action, count))

    def add_count(self, count: OperationCount) -> None:
        if not self.period.first <= count.day <= self.period.last or count.partner_id not in self.partner_ids:
            return
        row = self.rows.get((count.day, count.instance_id))
        if row is None:
            row = self.rows[(count.day, count.instance_id)] = OperationRow(
                count.day, count.instance_id, count.partner_id
            )
        row.total += count.count
        row.by_action[count.action] = row.by_action.get(count.action, 0) + count.count

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
