"""The reports read model: instances, licenses and companies as the events describe them, and
operation counts from the terminals' telemetry.

Events of different topics (and partitions) arrive in any order and may come twice, so every
field is merged, never overwritten blindly: each mutable field keeps the *stamp* of the event that
set it (event time, then event id, as one sortable string) and only a newer stamp replaces it;
terminal states (a revoked license) win whatever their time. Applying the same events in any
order, any number of times, gives the same projection.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum


class InstanceStatus(StrEnum):
    ACTIVE = "active"
    CANCELLATION_REQUESTED = "cancellation_requested"
    EXPIRED = "expired"


class LicenseStatus(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    REVOKED = "revoked"


INSTANCE_TYPES = ("WDS", "MCRM", "S360", "WTA")


def stamp_of(time: datetime, event_id: str) -> str:
    """A sortable stamp: UTC time with microseconds, then the event id to break ties."""
    return f"{time.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}|{event_id}"


def newer(stamp: str, current: str | None) -> bool:
    return current is None or stamp > current


def origin_of(stamp: str, *, creating: bool) -> str:
    """Whose ids (owner, company, instance) a view keeps: the event that creates the thing
    (instance.provisioned, license.added, company.created) over any other, then the oldest.
    Events may disagree on them, and the first delivered must not decide."""
    return f"{0 if creating else 1}|{stamp}"


def claims(origin: str, current: str | None) -> bool:
    return current is None or origin < current


# ---------------------------------------------------------------------------------- companies


@dataclass(frozen=True)
class CompanyView:
    id: str
    partner_id: str
    name: str | None = None
    name_stamp: str | None = None
    origin_stamp: str | None = None


def company_named(
    current: CompanyView | None, *, company_id: str, partner_id: str, name: str, stamp: str, created: bool = False
) -> CompanyView:
    company = current or CompanyView(company_id, partner_id)
    origin = origin_of(stamp, creating=created)
    if claims(origin, company.origin_stamp):
        company = replace(company, partner_id=partner_id, origin_stamp=origin)
    if not newer(stamp, company.name_stamp):
        return company
    return replace(company, name=name, name_stamp=stamp)


# ---------------------------------------------------------------------------------- instances


@dataclass(frozen=True)
class InstanceView:
    """One instance. `provisioned` is False while only later events (a license, an extension)
    have arrived before its `instance.provisioned`: such an instance is in no count yet."""

    id: str
    partner_id: str
    company_id: str
    type: str
    provisioned: bool = False
    provisioning_id: str | None = None
    contract_number: str | None = None
    provisioned_at: datetime | None = None
    activation_date: date | None = None
    expiry_date: date | None = None
    expiry_stamp: str | None = None
    profile: str | None = None
    profile_stamp: str | None = None
    name: str | None = None
    name_stamp: str | None = None
    cancellation_requested_at: datetime | None = None
    cancellation_reason: str | None = None
    cancellation_stamp: str | None = None
    origin_stamp: str | None = None

    def status(self, today: date) -> InstanceStatus:
        """As the instances service derives it: a requested cancellation stays visible; an
        active instance past its expiry date is expired."""
        if self.cancellation_requested_at is not None:
            return InstanceStatus.CANCELLATION_REQUESTED
        if self.expiry_date is not None and self.expiry_date < today:
            return InstanceStatus.EXPIRED
        return InstanceStatus.ACTIVE

    def active_during(self, period: Period) -> bool:
        """In service at any moment of the period (a cancellation request does not end it)."""
        if not self.provisioned or self.activation_date is None or self.expiry_date is None:
            return False
        return self.activation_date <= period.last and self.expiry_date >= period.first


def _instance(
    current: InstanceView | None,
    instance_id: str,
    partner_id: str,
    company_id: str,
    type_: str,
    stamp: str,
    *,
    creating: bool = False,
) -> InstanceView:
    instance = current or InstanceView(instance_id, partner_id, company_id, type_)
    origin = origin_of(stamp, creating=creating)
    if claims(origin, instance.origin_stamp):
        instance = replace(instance, partner_id=partner_id, company_id=company_id, origin_stamp=origin)
    return instance


def instance_provisioned(
    current: InstanceView | None,
    *,
    instance_id: str,
    partner_id: str,
    company_id: str,
    type_: str,
    provisioning_id: str,
    contract_number: str,
    profile: str | None,
    activation_date: date,
    expiry_date: date,
    at: datetime,
    stamp: str,
    name: str | None = None,
) -> InstanceView:
    instance = _instance(current, instance_id, partner_id, company_id, type_, stamp, creating=True)
    if name is not None and newer(stamp, instance.name_stamp):  # a later rename may have arrived first
        instance = replace(instance, name=name, name_stamp=stamp)
    instance = replace(
        instance,
        type=type_,  # an earlier-delivered extension or cancellation could not say it
        provisioned=True,
        provisioning_id=provisioning_id,
        contract_number=contract_number,
        provisioned_at=at,
        activation_date=activation_date,
    )
    if newer(stamp, instance.expiry_stamp):
        instance = replace(instance, expiry_date=expiry_date, expiry_stamp=stamp)
    if newer(stamp, instance.profile_stamp):
        instance = replace(instance, profile=profile, profile_stamp=stamp)
    return instance


def instance_updated(
    current: InstanceView | None,
    *,
    instance_id: str,
    partner_id: str,
    company_id: str,
    type_: str,
    changes: dict[str, object],
    stamp: str,
) -> InstanceView:
    instance = _instance(current, instance_id, partner_id, company_id, type_, stamp)
    if not instance.type:
        instance = replace(instance, type=type_)
    if "profile" in changes and newer(stamp, instance.profile_stamp):
        profile = changes["profile"]
        instance = replace(instance, profile=str(profile) if profile else None, profile_stamp=stamp)
    if isinstance(changes.get("name"), str) and newer(stamp, instance.name_stamp):
        instance = replace(instance, name=str(changes["name"]), name_stamp=stamp)
    return instance


def instance_extended(
    current: InstanceView | None,
    *,
    instance_id: str,
    partner_id: str,
    company_id: str,
    new_expiry_date: date,
    stamp: str,
) -> InstanceView:
    # The event does not carry the type; "" until instance.provisioned says it.
    instance = _instance(current, instance_id, partner_id, company_id, "", stamp)
    if newer(stamp, instance.expiry_stamp):
        instance = replace(instance, expiry_date=new_expiry_date, expiry_stamp=stamp)
    return instance


def cancellation_requested(
    current: InstanceView | None,
    *,
    instance_id: str,
    partner_id: str,
    company_id: str,
    reason: str,
    at: datetime,
    stamp: str,
) -> InstanceView:
    instance = _instance(current, instance_id, partner_id, company_id, "", stamp)
    # The first request counts: a later one (there should be none) never moves the date.
    if instance.cancellation_stamp is not None and instance.cancellation_stamp <= stamp:
        return instance
    return replace(instance, cancellation_requested_at=at, cancellation_reason=reason, cancellation_stamp=stamp)


# ---------------------------------------------------------------------------------- licenses


@dataclass(frozen=True)
class LicenseView:
    """One license. `added` is False while only its revocation or release has arrived.
    `instance_type` and `instance_activation_date` are copied from the instance once known
    (they never change), so license counts can be filtered like instance counts."""

    id: str
    instance_id: str
    partner_id: str
    company_id: str
    added: bool = False
    added_at: datetime | None = None
    user_name: str | None = None
    pin: str | None = None
    status: LicenseStatus | None = None
    status_stamp: str | None = None
    serial: str | None = None
    serial_stamp: str | None = None
    released_at: datetime | None = None
    revoked_at: datetime | None = None
    revoke_reason: str | None = None
    instance_type: str | None = None
    instance_activation_date: date | None = None
    origin_stamp: str | None = None

    def active_during(self, period: Period) -> bool:
        """Held (active or released: the seat is still paid) at any moment of the period."""
        if not self.added or self.added_at is None or self.added_at.date() > period.last:
            return False
        return self.revoked_at is None or self.revoked_at.date() >= period.first


def _license(
    current: LicenseView | None,
    license_id: str,
    instance_id: str,
    partner_id: str,
    company_id: str,
    pin: str,
    stamp: str,
    *,
    creating: bool = False,
) -> tuple[LicenseView, bool]:
    """The license, with the ids and PIN of the event that claims it (see `origin_of`); True
    if this event claimed it."""
    license_ = current or LicenseView(license_id, instance_id, partner_id, company_id)
    origin = origin_of(stamp, creating=creating)
    if not claims(origin, license_.origin_stamp):
        return license_, False
    if license_.instance_id != instance_id:  # what was copied from another instance no longer holds
        license_ = replace(license_, instance_type=None, instance_activation_date=None)
    license_ = replace(
        license_, instance_id=instance_id, partner_id=partner_id, company_id=company_id, pin=pin, origin_stamp=origin
    )
    return license_, True


def _status(license_: LicenseView, status: LicenseStatus, stamp: str) -> LicenseView:
    """Revoked is final: it wins over anything and nothing replaces it. Otherwise the newer
    event decides between active and released."""
    current = license_.status
    if current == LicenseStatus.REVOKED and status != LicenseStatus.REVOKED:
        return license_
    if status == LicenseStatus.REVOKED and current != LicenseStatus.REVOKED:
        return replace(license_, status=status, status_stamp=stamp)
    if newer(stamp, license_.status_stamp):
        return replace(license_, status=status, status_stamp=stamp)
    return license_


def license_added(
    current: LicenseView | None,
    *,
    license_id: str,
    instance_id: str,
    partner_id: str,
    company_id: str,
    user_name: str,
    pin: str,
    serial: str | None,
    at: datetime,
    stamp: str,
) -> LicenseView:
    license_, claimed = _license(current, license_id, instance_id, partner_id, company_id, pin, stamp, creating=True)
    if claimed:  # only one license.added is expected; if there were more, the oldest would describe it
        license_ = replace(license_, added=True, added_at=at, user_name=user_name)
    if newer(stamp, license_.serial_stamp):
        license_ = replace(license_, serial=serial, serial_stamp=stamp)
    return _status(license_, LicenseStatus.ACTIVE, stamp)


def license_released(
    current: LicenseView | None,
    *,
    license_id: str,
    instance_id: str,
    partner_id: str,
    company_id: str,
    pin: str,
    at: datetime,
    stamp: str,
) -> LicenseView:
    license_, _ = _license(current, license_id, instance_id, partner_id, company_id, pin, stamp)
    if newer(stamp, license_.serial_stamp):
        license_ = replace(license_, serial=None, serial_stamp=stamp)
    if license_.released_at is None or at > license_.released_at:
        license_ = replace(license_, released_at=at)
    return _status(license_, LicenseStatus.RELEASED, stamp)


def license_revoked(
    current: LicenseView | None,
    *,
    license_id: str,
    instance_id: str,
    partner_id: str,
    company_id: str,
    pin: str,
    reason: str,
    at: datetime,
    stamp: str,
) -> LicenseView:
    license_, _ = _license(current, license_id, instance_id, partner_id, company_id, pin, stamp)
    if license_.revoked_at is None or at < license_.revoked_at:
        license_ = replace(license_, revoked_at=at, revoke_reason=reason)
    return _status(license_, LicenseStatus.REVOKED, stamp)


def with_instance(license_: LicenseView, instance: InstanceView | None) -> LicenseView:
    """Copy what never changes of the instance onto the license, once the instance is known."""
    if instance is None or not instance.provisioned or instance.id != license_.instance_id:
        return license_
    return replace(license_, instance_type=instance.type, instance_activation_date=instance.activation_date)


# ---------------------------------------------------------------------------------- periods


class InvalidPeriod(ValueError):
    def __init__(self, field_name: str, message: str, code: str, **params: object) -> None:
        super().__init__(message)
        self.field = field_name
        self.code, self.params = code, params  # what words the message for each reader


@dataclass(frozen=True)
class Period:
    """Whole days, both ends included."""

    first: date
    last: date

    @classmethod
    def of(cls, first: date, last: date, *, field_name: str = "to", max_days: int | None = None) -> Period:
        if last < first:
            raise InvalidPeriod(
                field_name,
                f"the period ends ({last}) before it starts ({first})",
                "period_order",
                first=first,
                last=last,
            )
        if max_days is not None and (last - first).days + 1 > max_days:
            raise InvalidPeriod(
                field_name, f"the period may span at most {max_days} days", "period_span", days=max_days
            )
        return cls(first, last)

    def days(self) -> list[date]:
        return [date.fromordinal(n) for n in range(self.first.toordinal(), self.last.toordinal() + 1)]

    def months(self) -> list[str]:
        months: list[str] = []
        year, month = self.first.year, self.first.month
        while (year, month) <= (self.last.year, self.last.month):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months


def month_of(day: date | datetime) -> str:
    return f"{day.year:04d}-{day.month:02d}"


# ---------------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class Operation:
    """One telemetry event as counted, with where Kafka delivered it from."""

    event_id: str
    partition: int
    offset: int
    day: date
    instance_id: str
    partner_id: str
    action: str


RECENT_IDS = 512
"""Event ids an activity bucket remembers, to skip a terminal's re-send of an event it already
sent (same id, new offset). 16 hex digits of each id's hash: a false match has odds of about 1e-14."""


def short_id(op: Operation) -> str:
    """An operation's identity is (partner, instance, event id): older envelopes carry the
    terminal's own event id, which another instance or partner may use as well."""
    key = f"{op.partner_id}/{op.instance_id}/{op.event_id.lower()}"
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def bucket_id(day: date, partition: int) -> str:
    return f"{day.isoformat()}:{partition}"


def day_of_bucket(identifier: str) -> date:
    return date.fromisoformat(identifier.partition(":")[0])


@dataclass(frozen=True)
class CountKey:
    instance_id: str
    partner_id: str
    action: str


@dataclass
class ActivityBucket:
    """Operations of one day (UTC, by occurred_at) read from one partition of terminal.activity.

    Kafka redelivers a partition's records in offset order, so `applied_offset` (the highest
    offset counted here) tells exactly which records were counted already; it is stored in the
    same single-document write as the counts, so a crash leaves both or neither.
    """

    day: date
    partition: int
    applied_offset: int = -1
    recent_ids: list[str] = field(default_factory=list)
    counts: dict[CountKey, int] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return bucket_id(self.day, self.partition)


@dataclass
class CountResult:
    counted: int = 0
    redelivered: int = 0
    resent: int = 0

    def add(self, other: CountResult) -> None:
        self.counted += other.counted
        self.redelivered += other.redelivered
        self.resent += other.resent


def count_operations(bucket: ActivityBucket, operations: list[Operation], window: int = RECENT_IDS) -> CountResult:
    """Count the operations of this bucket's day and partition that it has not counted yet."""
    result = CountResult()
    # The window slides record by record, so where Kafka cut the batches never changes a count.
    recent: deque[str] = deque(bucket.recent_ids[-window:] if window else (), maxlen=window)
    for op in sorted(operations, key=lambda o: o.offset):
        if op.offset <= bucket.applied_offset:
            result.redelivered += 1
            continue
        bucket.applied_offset = op.offset
        short = short_id(op)
        if short in recent:
            result.resent += 1
            continue
        if window:
            recent.append(short)
        key = CountKey(op.instance_id, op.partner_id, op.action)
        bucket.counts[key] = bucket.counts.get(key, 0) + 1
        result.counted += 1
    bucket.recent_ids = list(recent)
    return result


def group_by_bucket(operations: list[Operation]) -> dict[tuple[date, int], list[Operation]]:
    groups: dict[tuple[date, int], list[Operation]] = {}
    for op in operations:
        groups.setdefault((op.day, op.partition), []).append(op)
    return groups
