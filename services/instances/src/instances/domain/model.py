"""The instance aggregate: provisioning (R-24), the instance's life, its licenses and sessions.

A provisioning and the instance it generates are one aggregate with one id: generating is one
state change of one document, so there is never an instance without its provisioning, nor two
instances for one provisioning. Every change returns `Change`s: what to audit and, for the
changes other services care about, the event payload to publish.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from contracts.events.common import Actor, InstanceType, Payload
from contracts.events.instances import (
    IngestKeyRotated,
    InstanceCancellationRequested,
    InstanceExtended,
    InstanceProvisioned,
    InstanceUpdated,
    SessionCleared,
)
from contracts.events.licenses import LicenseAdded, LicenseImpersonated, LicenseReleased, LicenseRevoked
from contracts.serials import canonical_serial
from instances.domain.configuration import Configuration, configuration_document, profile_of
from instances.domain.errors import Conflict, IllegalTransition, QuotaExceeded
from instances.domain.pricing import Pricing, price_for
from servicekit.errors import NotFound

MAX_TERM_MONTHS = 120


class Stage(StrEnum):
    DRAFT = "draft"
    PROVISIONED = "provisioned"  # contract generated and shown; may still be cancelled
    GENERATED = "generated"  # the instance exists: irreversible
    CANCELLED = "cancelled"


class InstanceStatus(StrEnum):
    ACTIVE = "active"
    CANCELLATION_REQUESTED = "cancellation_requested"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # derived: active with its expiry date in the past


class LicenseStatus(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"  # seat kept, no terminal bound
    REVOKED = "revoked"  # cancelled with a reason; final


@dataclass(frozen=True)
class Change:
    """One audited change, with the event other services get, if any."""

    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    event: Payload | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Party:
    name: str
    tax_id: str
    address: str
    contact: str = ""
    email: str = ""


@dataclass(frozen=True)
class Contract:
    number: str
    issued_at: datetime
    vendor: Party
    customer: Party
    partner_id: str
    product_type: InstanceType
    product_name: str
    profile: str | None
    term_months: int
    pricing: Pricing
    terms: dict[str, str]
    """The terms by language ("es", "en"), as issued; a contract issued with one text has only that one."""

    def terms_in(self, language: str) -> str:
        """The terms in `language`, else the text it was issued with (a legal text is never re-worded)."""
        return self.terms.get(language) or self.terms.get("en") or next(iter(self.terms.values()), "")


@dataclass(frozen=True)
class CancellationRequest:
    reason: str
    requested_by: Actor
    requested_at: datetime


@dataclass(frozen=True)
class TerminalSession:
    serial: str
    epoch: int


@dataclass
class License:
    id: str
    user_name: str
    email: str
    pin: str
    serial: str | None
    status: LicenseStatus
    created_at: datetime
    created_by: Actor
    updated_at: datetime
    revoked_reason: str | None = None

    def summary(self) -> dict[str, Any]:
        return {"status": self.status.value, "serial": self.serial, "pin": self.pin, "user_name": self.user_name}


@dataclass(frozen=True)
class NewLicense:
    user_name: str
    email: str
    pin: str
    serial: str | None = None


PRODUCT_NAMES = {
    InstanceType.WDS: "Working Day Suite",
    InstanceType.MCRM: "Mobile CRM",
    InstanceType.S360: "Service 360",
    InstanceType.WTA: "Workforce Time & Attendance",
}


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass
class Instance:
    id: str
    partner_id: str
    company_id: str
    type: InstanceType
    name: str
    configuration: Configuration
    term_months: int
    stage: Stage
    created_at: datetime
    created_by: Actor
    updated_at: datetime
    version: int = 0
    status: InstanceStatus | None = None  # set once generated
    contract: Contract | None = None
    activation_date: date | None = None
    expiry_date: date | None = None
    generate_key: str | None = None
    session_epoch: int = 0
    terminal_sessions: list[TerminalSession] = field(default_factory=list)
    cancellation: CancellationRequest | None = None
    licenses: list[License] = field(default_factory=list)
    ingest_key_hash: str | None = None  # sha256 of the key terminals authenticate with

    # ------------------------------------------------------------------ provisioning

    @classmethod
    def draft(
        cls,
        *,
        instance_id: str,
        partner_id: str,
        company_id: str,
        instance_type: InstanceType,
        name: str,
        configuration: Configuration,
        term_months: int,
        actor: Actor,
        now: datetime,
    ) -> tuple[Instance, Change]:
        _check_term(term_months)
        instance = cls(
            id=instance_id,
            partner_id=partner_id,
            company_id=company_id,
            type=instance_type,
            name=name,
            configuration=configuration,
            term_months=term_months,
            stage=Stage.DRAFT,
            created_at=now,
            created_by=actor,
            updated_at=now,
        )
        return instance, instance._change("provisioning.create", None, instance.snapshot())

    def update_draft(
        self, *, name: str | None, configuration: Configuration | None, term_months: int | None, now: datetime
    ) -> Change:
        self._require_stage({Stage.DRAFT}, "edit the draft")
        if term_months is not None:
            _check_term(term_months)
        before = self.snapshot()
        if name is not None:
            self.name = name
        if configuration is not None:
            self.configuration = configuration
        if term_months is not None:
            self.term_months = term_months
        self.updated_at = now
        return self._change("provisioning.update", before, self.snapshot())

    def check_can_provision(self) -> None:
        self._require_stage({Stage.DRAFT}, "provision")

    def provision(
        self, *, contract_number: str, vendor: Party, customer: Party, terms: Mapping[str, str], now: datetime
    ) -> Change:
        """Generate the contract to read; the provisioning can still be cancelled."""
        self.check_can_provision()
        before = self.snapshot()
        pricing = price_for(self.type, profile_of(self.configuration), self.configuration.quota, self.term_months)
        self.contract = Contract(
            number=contract_number,
            issued_at=now,
            vendor=vendor,
            customer=customer,
            partner_id=self.partner_id,
            product_type=self.type,
            product_name=PRODUCT_NAMES[self.type],
            profile=profile_of(self.configuration),
            term_months=self.term_months,
            pricing=pricing,
            terms=dict(terms),
        )
        self.stage = Stage.PROVISIONED
        self.updated_at = now
        return self._change("provisioning.provision", before, self.snapshot(), detail={"contract": contract_number})

    def cancel_provisioning(self, *, now: datetime) -> Change:
        self._require_stage({Stage.DRAFT, Stage.PROVISIONED}, "cancel the provisioning")
        before = self.snapshot()
        self.stage = Stage.CANCELLED
        self.updated_at = now
        return self._change("provisioning.cancel", before, self.snapshot())

    def generate(self, *, idempotency_key: str, actor: Actor, today: date, now: datetime) -> Change | None:
        """Create the instance (irreversible). Returns None when this key already generated it."""
        if self.stage == Stage.GENERATED and self.generate_key == idempotency_key:
            return None  # a retry of the same request: same instance, nothing new
        self._require_stage({Stage.PROVISIONED}, "generate")
        if self.contract is None:  # provisioned always has one; guard against a hand-edited document
            raise IllegalTransition("provisioned without contract", "generate")
        before = self.snapshot()
        self.stage = Stage.GENERATED
        self.status = InstanceStatus.ACTIVE
        self.generate_key = idempotency_key
        self.activation_date = today
        self.expiry_date = add_months(today, self.term_months)
        self.updated_at = now
        event = InstanceProvisioned(
            instance_id=self.id,
            partner_id=self.partner_id,
            company_id=self.company_id,
            provisioning_id=self.id,
            contract_number=self.contract.number,
            name=self.name,
            type=self.type,
            profile=profile_of(self.configuration),
            activation_date=today,
            expiry_date=self.expiry_date,
            configuration=configuration_document(self.configuration),
            provisioned_by=actor,
        )
        return self._change("instance.generate", before, self.snapshot(), event=event)

    # ------------------------------------------------------------------ the instance's life

    def effective_status(self, today: date) -> InstanceStatus | None:
        if self.status == InstanceStatus.ACTIVE and self.expiry_date is not None and self.expiry_date < today:
            return InstanceStatus.EXPIRED
        return self.status

    def edit(
        self, *, name: str | None, configuration: Configuration | None, actor: Actor, now: datetime
    ) -> Change | None:
        self._require_live("edit")
        if configuration is not None and configuration.quota < self.seats_in_use():
            raise QuotaExceeded(quota=configuration.quota, in_use=self.seats_in_use(), requested=0)
        before = self.snapshot()
        changes: dict[str, Any] = {}
        if name is not None and name != self.name:
            self.name = name
            changes["name"] = name
        if configuration is not None and configuration != self.configuration:
            self.configuration = configuration
            changes["configuration"] = configuration_document(configuration)
            changes["profile"] = profile_of(configuration)
        if not changes:
            return None
        self.updated_at = now
        event = InstanceUpdated(
            instance_id=self.id,
            partner_id=self.partner_id,
            company_id=self.company_id,
            type=self.type,
            changes=changes,
            updated_by=actor,
        )
        return self._change("instance.edit", before, self.snapshot(), event=event)

    def extend(self, *, new_expiry_date: date, actor: Actor, today: date, now: datetime) -> Change:
        """Move the expiry date later; effective at once (R-03)."""
        self._require_live("extend")
        previous = self.expiry_date or today
        if new_expiry_date <= previous:
            raise Conflict("expiry-not-later", f"The new expiry date must be after {previous.isoformat()}.")
        if new_expiry_date > add_months(today, MAX_TERM_MONTHS):
            raise Conflict("expiry-too-far", f"The expiry date can be at most {MAX_TERM_MONTHS} months ahead.")
        before = self.snapshot()
        self.expiry_date = new_expiry_date
        self.updated_at = now
        event = InstanceExtended(
            instance_id=self.id,
            partner_id=self.partner_id,
            company_id=self.company_id,
            previous_expiry_date=previous,
            new_expiry_date=new_expiry_date,
            extended_by=actor,
        )
        return self._change("instance.extend", before, self.snapshot(), event=event)

    def request_cancellation(self, *, reason: str, actor: Actor, now: datetime) -> Change:
        """Ask the vendor to cancel the instance (R-25); a reason is mandatory."""
        self._require_stage({Stage.GENERATED}, "request cancellation")
        if self.status != InstanceStatus.ACTIVE:
            raise IllegalTransition(str(self.status), "request cancellation")
        reason = reason.strip()
        if not reason:
            raise Conflict("reason-required", "A reason is required.")
        before = self.snapshot()
        self.status = InstanceStatus.CANCELLATION_REQUESTED
        self.cancellation = CancellationRequest(reason=reason, requested_by=actor, requested_at=now)
        self.updated_at = now
        event = InstanceCancellationRequested(
            instance_id=self.id,
            partner_id=self.partner_id,
            company_id=self.company_id,
            reason=reason,
            requested_by=actor,
        )
        return self._change("instance.request_cancellation", before, self.snapshot(), event=event)

    def clear_session(self, *, serial: str | None, actor: Actor, now: datetime) -> Change:
        """Terminals (one, or all of the instance) must log in again and fetch the configuration (R-23)."""
        self._require_live("clear the session")
        before = {"session_epoch": self.session_epoch, "terminal_sessions": self._sessions_document()}
        if serial is None:
            # Above every terminal's own epoch too, so a terminal cleared alone before is logged out as well.
            self.session_epoch = max([self.session_epoch, *(s.epoch for s in self.terminal_sessions)]) + 1
            epoch = self.session_epoch
        else:
            serial = canonical_serial(serial)
            current = self.terminal_epoch(serial)
            epoch = max(current, self.session_epoch) + 1
            others = [s for s in self.terminal_sessions if canonical_serial(s.serial) != canonical_serial(serial)]
            self.terminal_sessions = [*others, TerminalSession(serial, epoch)]
        self.updated_at = now
        after = {"session_epoch": self.session_epoch, "terminal_sessions": self._sessions_document()}
        event = SessionCleared(
            instance_id=self.id, partner_id=self.partner_id, serial=serial, session_epoch=epoch, cleared_by=actor
        )
        return self._change("instance.clear_session", before, after, event=event, detail={"serial": serial})

    def terminal_epoch(self, serial: str) -> int:
        """The epoch a terminal must have seen; higher than its last login means: log in again."""
        # Stored serials may predate the canonical form: compared canonically, in any letter case.
        own = max(
            (s.epoch for s in self.terminal_sessions if canonical_serial(s.serial) == canonical_serial(serial)),
            default=0,
        )
        return max(own, self.session_epoch)

    def rotate_ingest_key(self, *, key_hash: str, actor: Actor, now: datetime) -> Change:
        """Replace the key terminals use for telemetry and configuration; the old one stops working."""
        self._require_live("issue an ingest key")
        had_key = self.ingest_key_hash is not None
        self.ingest_key_hash = key_hash
        self.updated_at = now
        event = IngestKeyRotated(instance_id=self.id, partner_id=self.partner_id, key_sha256=key_hash, rotated_by=actor)
        return self._change(
            "instance.rotate_ingest_key", None, None, event=event, detail={"replaced_previous": had_key}
        )

    # ------------------------------------------------------------------ licenses

    def seats_in_use(self) -> int:
        return sum(1 for lic in self.licenses if lic.status != LicenseStatus.REVOKED)

    def license(self, license_id: str) -> License:
        for lic in self.licenses:
            if lic.id == license_id:
                return lic
        raise NotFound("license", license_id)

    def add_licenses(self, new: list[NewLicense], *, ids: list[str], actor: Actor, now: datetime) -> list[Change]:
        """Add seats, all or none: the quota and PIN uniqueness hold for the whole batch."""
        self._require_live("add licenses")
        if len(ids) != len(new):
            raise ValueError("one id per new license is needed")
        if not new:
            return []
        quota, in_use = self.configuration.quota, self.seats_in_use()
        if in_use + len(new) > quota:
            raise QuotaExceeded(quota=quota, in_use=in_use, requested=len(new))
        live_pins = {lic.pin for lic in self.licenses if lic.status != LicenseStatus.REVOKED}
        batch_pins = [item.pin for item in new]
        repeated = sorted({pin for pin in batch_pins if pin in live_pins or batch_pins.count(pin) > 1})
        if repeated:
            raise Conflict("pin-in-use", f"PIN already in use in this instance: {', '.join(repeated)}.", pins=repeated)
        bound = {
            canonical_serial(lic.serial) for lic in self.licenses if lic.serial and lic.status == LicenseStatus.ACTIVE
        }
        serials = [canonical_serial(item.serial) for item in new if item.serial]
        taken = sorted({s for s in serials if s in bound or serials.count(s) > 1})
        if taken:
            raise Conflict("serial-bound", f"Terminal already bound to a license: {', '.join(taken)}.", serials=taken)
        changes = []
        for license_id, item in zip(ids, new, strict=True):
            lic = License(
                id=license_id,
                user_name=item.user_name,
                email=item.email,
                pin=item.pin,
                serial=canonical_serial(item.serial) if item.serial else None,
                status=LicenseStatus.ACTIVE,
                created_at=now,
                created_by=actor,
                updated_at=now,
            )
            self.licenses.append(lic)
            event = LicenseAdded(
                license_id=lic.id,
                instance_id=self.id,
                partner_id=self.partner_id,
                company_id=self.company_id,
                user_name=lic.user_name,
                email=lic.email,
                pin=lic.pin,
                serial=lic.serial,
                added_by=actor,
            )
            changes.append(Change("license.add", "license", lic.id, None, lic.summary(), event))
        self.updated_at = now
        return changes

    def revoke_license(self, license_id: str, *, reason: str, actor: Actor, now: datetime) -> Change:
        """Cancel a license with a reason (R-26); final."""
        self._require_live("revoke a license")
        lic = self.license(license_id)
        if lic.status == LicenseStatus.REVOKED:
            raise IllegalTransition(lic.status.value, "revoke")
        reason = reason.strip()
        if not reason:
            raise Conflict("reason-required", "A reason is required.")
        before = lic.summary()
        lic.status, lic.revoked_reason, lic.updated_at = LicenseStatus.REVOKED, reason, now
        self.updated_at = now
        event = LicenseRevoked(
            license_id=lic.id,
            instance_id=self.id,
            partner_id=self.partner_id,
            company_id=self.company_id,
            pin=lic.pin,
            serial=lic.serial,
            reason=reason,
            revoked_by=actor,
        )
        return Change("license.revoke", "license", lic.id, before, lic.summary(), event, {"reason": reason})

    def release_license(self, license_id: str, *, reason: str | None, actor: Actor, now: datetime) -> Change:
        """Free the seat from its terminal (R-43); the license stays, ready for another terminal."""
        self._require_live("release a license")
        lic = self.license(license_id)
        if lic.status != LicenseStatus.ACTIVE:
            raise IllegalTransition(lic.status.value, "release")
        if lic.serial is None:
            raise Conflict("not-bound", "The license is not bound to any terminal.")
        before = lic.summary()
        serial = lic.serial
        lic.status, lic.serial, lic.updated_at = LicenseStatus.RELEASED, None, now
        self.updated_at = now
        event = LicenseReleased(
            license_id=lic.id,
            instance_id=self.id,
            partner_id=self.partner_id,
            company_id=self.company_id,
            pin=lic.pin,
            serial=serial,
            reason=(reason or "").strip() or None,
            released_by=actor,
        )
        return Change("license.release", "license", lic.id, before, lic.summary(), event, {"serial": serial})

    def impersonation(
        self, license_id: str, *, reason: str, expires_at: datetime, actor: Actor, grant_id: str
    ) -> Change:
        """Record that `actor` opens the panel as this license's user (R-22) with the grant
        `grant_id` (the token's `jti`); no state changes, the event tells the trail."""
        self._require_live("impersonate")
        lic = self.license(license_id)
        if lic.status == LicenseStatus.REVOKED:
            raise IllegalTransition(lic.status.value, "impersonate")
        if not reason.strip():
            raise Conflict("reason-required", "A reason is required.")
        detail = {
            "reason": reason.strip(),
            "expires_at": expires_at.isoformat(),
            "user": lic.email,
            "grant_id": grant_id,
        }
        event = LicenseImpersonated(
            grant_id=grant_id,
            license_id=lic.id,
            instance_id=self.id,
            partner_id=self.partner_id,
            company_id=self.company_id,
            pin=lic.pin,
            user=lic.email,
            serial=lic.serial,
            reason=reason.strip(),
            expires_at=expires_at,
            impersonated_by=actor,
        )
        return Change("license.impersonate", "license", lic.id, None, None, event, detail)

    # ------------------------------------------------------------------ helpers

    def snapshot(self) -> dict[str, Any]:
        """The audited view of the instance (licenses are audited one by one)."""
        return {
            "stage": self.stage.value,
            "status": self.status.value if self.status else None,
            "name": self.name,
            "configuration": configuration_document(self.configuration),
            "term_months": self.term_months,
            "expiry_date": self.expiry_date.isoformat() if self.expiry_date else None,
            "contract": self.contract.number if self.contract else None,
        }

    def _sessions_document(self) -> list[dict[str, Any]]:
        return [{"serial": s.serial, "epoch": s.epoch} for s in self.terminal_sessions]

    def _change(
        self,
        action: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        *,
        event: Payload | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Change:
        return Change(action, "instance", self.id, before, after, event, detail or {})

    def _require_stage(self, allowed: set[Stage], action: str) -> None:
        if self.stage not in allowed:
            raise IllegalTransition(self.stage.value, action)

    def _require_live(self, action: str) -> None:
        self._require_stage({Stage.GENERATED}, action)
        if self.status == InstanceStatus.CANCELLED:
            raise IllegalTransition(self.status.value, action)


def _check_term(months: int) -> None:
    if not 1 <= months <= MAX_TERM_MONTHS:
        raise Conflict("invalid-term", f"The term must be between 1 and {MAX_TERM_MONTHS} months.")
