"""Demo data: partners, companies, instances of all four types across statuses and dates,
licenses with terminals. Written through the use cases (so every change is audited and its
events wait in the outbox: the running service's relay publishes them to the other services).

    python -m instances.entrypoints.demo_data --partners 3 --companies 4 --instances 2 --licenses 6

Idempotent: a partner that already has companies is left alone. Seeded: the same sizes and seed
give the same data. `--json` prints what was made (the terminals, for the telemetry demo).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from contracts.events.common import InstanceType
from instances.bootstrap import UseCases, build_use_cases
from instances.config import Settings
from instances.domain.company import Address
from instances.domain.model import NewLicense
from instances.service_layer.commands import CompanyData, InstanceCommands
from instances.service_layer.ports import CompanyQuery
from servicekit.mongo import create_mongo_client
from servicekit.principal import Principal

DEMO_PARTNERS = ["ptn-demo", "ptn-norte", "ptn-levante", "ptn-sur", "ptn-centro"]
COMPANY_NAMES = [
    "Transportes López", "Limpiezas Brillo", "Seguridad Atalaya", "Clínica Dental Sonrisa", "Construcciones Ebro",
    "Frutas Huerta Viva", "Talleres Gómez", "Hotel Mirador", "Farmacia Central", "Logística Meseta",
    "Jardinería Verde", "Panadería Espiga", "Ascensores Cima", "Reformas Hogar", "Autoescuela Ruta",
]  # fmt: skip
CITIES = [("Madrid", "28013", "Madrid"), ("Valencia", "46002", "Valencia"), ("Sevilla", "41001", "Sevilla"),
          ("Zaragoza", "50001", "Zaragoza"), ("Bilbao", "48001", "Bizkaia")]  # fmt: skip
FIRST = ["Ana", "Luis", "Marta", "Jorge", "Lucía", "Pablo", "Elena", "Sergio", "Carmen", "Diego", "Sara", "Raúl"]
LAST = ["García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Martín", "Ruiz", "Díaz", "Moreno"]
MAKERS = [
    ("Samsung", "SM-A546B"),
    ("Samsung", "SM-T505"),
    ("Zebra", "TC21"),
    ("Honeywell", "CT40"),
    ("Xiaomi", "Redmi 13"),
]
TYPES = [InstanceType.WDS, InstanceType.MCRM, InstanceType.S360, InstanceType.WTA]


class DemoClock:
    """The time the next demo action happens at (demo histories span years)."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def now(self) -> datetime:
        return self.at


@dataclass
class DemoTerminal:
    partner_id: str
    instance_id: str
    instance_type: str
    serial: str
    pin: str
    maker: str
    model: str


@dataclass
class DemoSummary:
    partners: list[str] = field(default_factory=list)
    companies: int = 0
    instances: int = 0
    provisionings: int = 0
    licenses: int = 0
    terminals: list[DemoTerminal] = field(default_factory=list)
    skipped_partners: list[str] = field(default_factory=list)


def _configuration(instance_type: InstanceType, rng: random.Random, seats: int) -> dict[str, Any]:
    if instance_type == InstanceType.WDS:
        return {
            "profile": rng.choice(["essential", "professional", "enterprise"]),
            "terminal_quota": seats,
            "gps_tracking": rng.random() < 0.7,
            "clock_in_methods": rng.sample(["pin", "nfc", "qr", "gps"], k=rng.randint(1, 3)),
        }
    quota_field = {InstanceType.MCRM: "seat_quota", InstanceType.S360: "technician_quota"}.get(
        instance_type, "employee_quota"
    )
    return {quota_field: seats}


async def generate(
    use_cases: UseCases,
    clock: DemoClock,
    *,
    partners: int,
    companies: int,
    instances: int,
    licenses: int,
    seed: int = 7,
) -> DemoSummary:
    commands, queries = use_cases.commands, use_cases.queries
    rng = random.Random(seed)  # noqa: S311  (demo data, not secrets)
    summary = DemoSummary()
    today = datetime.now(UTC).date()
    for p_index, partner_id in enumerate(_partner_ids(partners)):
        principal = Principal(f"usr-demo-{partner_id}", "partner", partner_id, frozenset({partner_id}))
        clock.at = datetime.now(UTC)
        if (await queries.search_companies(principal, CompanyQuery(limit=1))).items:
            summary.skipped_partners.append(partner_id)
            continue
        summary.partners.append(partner_id)
        for c_index in range(companies):
            city, postal, province = rng.choice(CITIES)
            name = f"{COMPANY_NAMES[(p_index * companies + c_index) % len(COMPANY_NAMES)]} {c_index + 1} S.L."
            contact = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            clock.at = datetime.combine(today - timedelta(days=900), time(9), UTC)
            company = await commands.create_company(
                principal,
                CompanyData(
                    name=name,
                    tax_id=f"B{rng.randrange(10**7, 10**8)}",
                    address=Address(f"Calle {rng.choice(LAST)} {rng.randint(1, 120)}", city, postal, province, "ES"),
                    contact_person=contact,
                    email=f"{contact.split(maxsplit=1)[0].lower()}@{name.split(maxsplit=1)[0].lower()}.example",
                    phone=f"+34 9{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}",
                ),
            )
            summary.companies += 1
            for i_index in range(instances):
                instance_type = TYPES[(c_index * instances + i_index) % len(TYPES)]
                await _instance(commands, clock, rng, principal, company.id, instance_type, licenses, today, summary)
        # One provisioning left as a draft, one with its contract to read, one cancelled.
        first_company = (await queries.search_companies(principal, CompanyQuery(limit=1))).items[0]
        clock.at = datetime.now(UTC) - timedelta(hours=2)
        for step in ("draft", "provisioned", "cancelled"):
            draft = await commands.create_draft(
                principal,
                company_id=first_company.id,
                instance_type=rng.choice(TYPES),
                name=f"New site ({step})",
                configuration=None,
                term_months=12,
            )
            if step != "draft":
                await commands.provision(principal, draft.id)
            if step == "cancelled":
                await commands.cancel_provisioning(principal, draft.id)
            summary.provisionings += 1
    return summary


async def _instance(
    commands: InstanceCommands,
    clock: DemoClock,
    rng: random.Random,
    principal: Principal,
    company_id: str,
    instance_type: InstanceType,
    licenses: int,
    today: date,
    summary: DemoSummary,
) -> None:
    seats = max(licenses + 2, 5)
    activation = today - timedelta(days=rng.randint(5, 900))
    clock.at = datetime.combine(activation, time(10), UTC)
    draft = await commands.create_draft(
        principal,
        company_id=company_id,
        instance_type=instance_type,
        name=f"{instance_type.value} {rng.choice(['central', 'almacén', 'flota', 'tienda', 'obra'])}",
        configuration=_configuration(instance_type, rng, seats),
        term_months=rng.choice([12, 24, 36]),
    )
    await commands.provision(principal, draft.id)
    instance = await commands.generate(principal, draft.id, f"demo-{draft.id}")
    summary.instances += 1
    clock.at += timedelta(hours=1)
    people = []
    for n in range(licenses):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        serial = f"{instance_type.value[:2]}{rng.randrange(16**8):08X}"
        email = f"{name.split(maxsplit=1)[0].lower()}.{n}@example.com"
        people.append(NewLicense(name, email, f"{1000 + n:04d}", serial))
    ids = await commands.add_licenses(principal, instance.id, people) if people else []
    summary.licenses += len(ids)
    for person in people:
        maker, model = rng.choice(MAKERS)
        summary.terminals.append(
            DemoTerminal(
                principal.partner_id, instance.id, instance_type.value, person.serial or "", person.pin, maker, model
            )
        )
    later = min(clock.at + timedelta(days=rng.randint(1, 60)), datetime.now(UTC))
    clock.at = later
    if len(ids) >= 3 and rng.random() < 0.6:
        await commands.revoke_license(principal, instance.id, ids[-1], "Employee left the company")
        summary.terminals.pop()
    if len(ids) >= 2 and rng.random() < 0.4:
        await commands.release_license(principal, instance.id, ids[0], "Terminal replaced")
    if rng.random() < 0.3:
        await commands.clear_session(principal, instance.id, None)
    roll = rng.random()
    if roll < 0.15:
        await commands.request_cancellation(principal, instance.id, "Customer is closing this line of business")
    elif roll < 0.35 and instance.expiry_date is not None:
        await commands.extend(principal, instance.id, instance.expiry_date + timedelta(days=365))


def _partner_ids(count: int) -> list[str]:
    return [DEMO_PARTNERS[i] if i < len(DEMO_PARTNERS) else f"ptn-demo-{i}" for i in range(count)]


async def run(args: argparse.Namespace) -> DemoSummary:
    settings = Settings()
    mongo = create_mongo_client(settings.platform, app_name="partnerapp-instances-demo")
    clock = DemoClock()
    try:
        use_cases = build_use_cases(settings, mongo[settings.mongo_database], clock=clock)
        return await generate(
            use_cases,
            clock,
            partners=args.partners,
            companies=args.companies,
            instances=args.instances,
            licenses=args.licenses,
            seed=args.seed,
        )
    finally:
        await mongo.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--partners", type=int, default=3)
    parser.add_argument("--companies", type=int, default=4, help="per partner")
    parser.add_argument("--instances", type=int, default=2, help="per company")
    parser.add_argument("--licenses", type=int, default=4, help="per instance")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    summary = asyncio.run(run(args))
    if args.json:
        print(json.dumps(asdict(summary)))  # noqa: T201
    else:
        print(  # noqa: T201
            f"demo data: {len(summary.partners)} partners, {summary.companies} companies,"
            f" {summary.instances} instances, {summary.provisionings} provisionings, {summary.licenses} licenses"
            + (f"; already present for {', '.join(summary.skipped_partners)}" if summary.skipped_partners else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
