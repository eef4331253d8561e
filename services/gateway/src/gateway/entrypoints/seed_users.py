"""Demo partners and users for a local platform (`make up`); idempotent.

    python -m gateway.entrypoints.seed_users --credentials .cache/demo-credentials.json ptn-demo ptn-norte

Per partner, one partner user; plus one staff user associated with all of them. Passwords are
generated on the first run and kept in the credentials file (never in the repository), so later
runs print the same ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from datetime import timedelta
from pathlib import Path

from gateway.adapters.mongo import (
    INDEXES,
    MongoAuditLog,
    MongoLoginGuards,
    MongoNotificationLog,
    MongoPartners,
    MongoSessions,
    MongoUsers,
)
from gateway.adapters.security import Argon2Passwords, SignedAccessTokens
from gateway.adapters.webpush import MongoPushSubscriptions
from gateway.config import Settings
from gateway.service_layer.commands import GatewayCommands
from servicekit.auth import TokenIssuer, generate_key_pair
from servicekit.mongo import DocumentLocks, create_mongo_client, ensure_indexes


def _partner_name(partner_id: str) -> str:
    return partner_id.removeprefix("ptn-").replace("-", " ").title() + " Partners"


async def seed(partner_ids: list[str], known: dict[str, str]) -> list[dict[str, str]]:
    """Creates what is missing; `known` (e-mail -> password) gains the passwords of new users."""
    settings = Settings()
    client = create_mongo_client(settings.platform, app_name="partnerapp-gateway-seed")
    db = client[settings.mongo_database]
    try:
        await ensure_indexes(db, INDEXES)
        locks = DocumentLocks()
        private_pem, _ = generate_key_pair()  # no token is issued here; the commands need an issuer
        commands = GatewayCommands(
            users=MongoUsers(db, locks),
            sessions=MongoSessions(db, locks),
            guards=MongoLoginGuards(db, locks),
            hasher=Argon2Passwords(),
            tokens=SignedAccessTokens(
                TokenIssuer(private_pem, issuer="seed", audience="seed", ttl=timedelta(minutes=1))
            ),
            audit=MongoAuditLog(db),
            push_subscriptions=MongoPushSubscriptions(db, locks),
            notification_log=MongoNotificationLog(db),
            partners=MongoPartners(db),  # each put carries `partner.updated`, which the gateway's relay publishes
        )
        wanted = [
            *(
                ("partner", f"usr-{pid}", f"admin@{pid}.example", f"{_partner_name(pid)} admin", (pid,))
                for pid in partner_ids
            ),
            ("staff", "usr-staff", "staff@partnerapp.example", "Vendor support", tuple(partner_ids)),
        ]
        printed = []
        for pid in partner_ids:
            await commands.put_partner(pid, _partner_name(pid))
        for role, user_id, email, name, partners_of_user in wanted:
            password = known.get(email) or secrets.token_urlsafe(12)
            created = await commands.create_user(
                user_id=user_id, email=email, name=name, role=role, partner_ids=partners_of_user, password=password
            )
            if created:
                known[email] = password
            printed.append(
                {
                    "role": role,
                    "email": email,
                    "password": known.get(email, "(set before; not in the credentials file)"),
                }
            )
        return printed
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("partners", nargs="+", help="partner ids, e.g. ptn-demo")
    parser.add_argument("--credentials", type=Path, required=True, help="where generated passwords are kept")
    args = parser.parse_args()
    credentials: Path = args.credentials
    known: dict[str, str] = json.loads(credentials.read_text()) if credentials.exists() else {}
    rows = asyncio.run(seed(args.partners, known))
    credentials.parent.mkdir(parents=True, exist_ok=True)
    credentials.write_text(json.dumps(known, indent=2))
    credentials.chmod(0o600)
    for row in rows:
        sys.stdout.write(f"{row['role']:8} {row['email']:32} {row['password']}\n")


if __name__ == "__main__":
    main()
