"""The gateway against the real FerretDB and Kafka: a partner put in its directory is announced
as `partner.updated` (written with the partner, published by the gateway's relay), and the
access tokens it issues carry the user's display name and language (OIDC `name`, `locale`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx2
import jwt
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from contracts import decode_envelope
from contracts.events.partners import PartnerUpdated
from gateway.bootstrap import build_app
from gateway.config import Settings
from gateway.domain.model import Language
from gateway.service_layer.commands import GatewayCommands
from servicekit.api import provided_on
from servicekit.settings import PlatformSettings
from servicekit.testing import KafkaProbe, started

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture
async def gateway(platform: PlatformSettings, database_name: str, key_pair: tuple[str, str]) -> AsyncIterator[FastAPI]:
    settings = Settings(
        mongo_database=database_name,
        consumer_group=f"gateway-{uuid.uuid4().hex[:8]}",
        token_private_key=SecretStr(key_pair[0]),
        instances_url=UNREACHABLE,
        support_url=UNREACHABLE,
        reports_url=UNREACHABLE,
        activity_url=UNREACHABLE,
        outbox_scan_seconds=0.2,
        platform=platform,
    )
    app = build_app(settings)
    async with started(app):
        yield app


async def test_a_partner_put_in_the_directory_is_announced_and_tokens_name_the_user(
    gateway: FastAPI, kafka: KafkaProbe
) -> None:
    commands: GatewayCommands = provided_on(gateway, GatewayCommands)
    partner_id = f"ptn-{uuid.uuid4().hex[:8]}"
    await commands.put_partner(partner_id, "Acme Distribución")
    await commands.put_partner(partner_id, "  Acme Distribución S.L. ")  # renamed: announced again, trimmed

    def both(records: list[object]) -> bool:
        return sum(getattr(r, "key", None) == partner_id.encode() for r in records) >= 2

    records = [r for r in await kafka.read_all("partner.updated", until=both) if r.key == partner_id.encode()]
    events = [decode_envelope(r.value or b"", expected_type="partner.updated") for r in records]
    assert [e.data for e in events] == [
        PartnerUpdated(partner_id=partner_id, name="Acme Distribución"),
        PartnerUpdated(partner_id=partner_id, name="Acme Distribución S.L."),
    ]
    assert {(e.source, e.subject) for e in events} == {("gateway", partner_id)}

    user_id = f"usr-{uuid.uuid4().hex[:8]}"
    email = f"{user_id}@example.com"
    await commands.create_user(
        user_id=user_id,
        email=email,
        name="Mary Smith",
        role="partner",
        partner_ids=(partner_id,),
        password=PASSWORD,
        language=Language.EN,
    )
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gateway), base_url="http://gateway") as http:
        login = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        claims = jwt.decode(token, options={"verify_signature": False})
        assert (claims["sub"], claims["name"], claims["locale"]) == (user_id, "Mary Smith", "en")
        partners = await http.get("/api/v1/partners", headers={"Authorization": f"Bearer {token}"})
        assert partners.status_code == 200, partners.text
        assert "Acme Distribución S.L." in partners.text
