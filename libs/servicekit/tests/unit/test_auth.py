from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from servicekit.auth import TokenIssuer, TokenVerifier, generate_key_pair
from servicekit.principal import Principal
from servicekit.problems import Problem

pytestmark = pytest.mark.unit

ISS, AUD = "partnerapp-gateway", "partnerapp"
PRIVATE, PUBLIC = generate_key_pair()
issuer = TokenIssuer(PRIVATE, issuer=ISS, audience=AUD)
verifier = TokenVerifier(PUBLIC, issuer=ISS, audience=AUD)
ANA = Principal("usr-ana", "partner", "ptn-acme", frozenset({"ptn-acme"}))


def rejected(token: str) -> str:
    with pytest.raises(Problem) as caught:
        verifier.verify(token)
    assert caught.value.status == 401
    return caught.value.detail


def test_a_valid_token_gives_the_principal() -> None:
    assert verifier.verify(issuer.issue(ANA)) == ANA


def test_staff_acts_for_one_of_their_partners() -> None:
    staff = Principal("usr-sam", "staff", "ptn-b", frozenset({"ptn-a", "ptn-b"}))
    assert verifier.verify(issuer.issue(staff)).partner_ids == {"ptn-a", "ptn-b"}


def test_expired_token_is_rejected() -> None:
    old = datetime.now(UTC) - timedelta(hours=2)
    assert "expired" in rejected(issuer.issue(ANA, now=old))


def test_token_from_another_key_is_rejected() -> None:
    other = TokenIssuer(generate_key_pair()[0], issuer=ISS, audience=AUD)
    assert "Signature" in rejected(other.issue(ANA))


def test_wrong_audience_or_issuer_is_rejected() -> None:
    assert "Audience" in rejected(TokenIssuer(PRIVATE, issuer=ISS, audience="elsewhere").issue(ANA))
    assert "issuer" in rejected(TokenIssuer(PRIVATE, issuer="mallory", audience=AUD).issue(ANA))


def test_algorithm_is_pinned_none_and_hmac_are_refused() -> None:
    claims = jwt.decode(issuer.issue(ANA), options={"verify_signature": False})
    assert rejected(jwt.encode(claims, None, algorithm="none"))
    # The classic confusion attack: HMAC-sign with the public key. Built by hand, as PyJWT
    # itself refuses to produce it.
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    mac = _b64(hmac.new(PUBLIC.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest())
    assert "alg value is not allowed" in rejected(f"{header}.{body}.{mac}")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_tampered_claims_are_rejected() -> None:
    header, _payload, signature = issuer.issue(ANA).split(".")
    claims = jwt.decode(issuer.issue(ANA), options={"verify_signature": False})
    claims["partner_id"] = "ptn-rival"
    forged_payload = jwt.encode(claims, PRIVATE, algorithm="EdDSA").split(".")[1]
    assert rejected(f"{header}.{forged_payload}.{signature}")


def test_partner_user_cannot_claim_several_partners() -> None:
    sneaky = Principal("usr-ana", "partner", "ptn-acme", frozenset({"ptn-acme", "ptn-rival"}))
    assert "one partner" in rejected(issuer.issue(sneaky))


def test_acting_partner_must_be_among_the_associated_ones() -> None:
    claims = jwt.decode(issuer.issue(ANA), options={"verify_signature": False})
    claims.update(role="staff", partner_id="ptn-zeta", partners=["ptn-a"])
    assert "inconsistent" in rejected(jwt.encode(claims, PRIVATE, algorithm="EdDSA"))


def test_missing_required_claim_is_rejected() -> None:
    claims = jwt.decode(issuer.issue(ANA), options={"verify_signature": False})
    del claims["nbf"]
    assert "nbf" in rejected(jwt.encode(claims, PRIVATE, algorithm="EdDSA"))


def test_a_token_verified_once_is_not_verified_again_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [datetime.now(UTC).timestamp()]
    remembering = TokenVerifier(PUBLIC, issuer=ISS, audience=AUD, clock=lambda: now[0])
    token = issuer.issue(ANA, ttl=timedelta(minutes=10))
    decoded: list[str] = []
    real_decode = jwt.decode

    def counting(*args: object, **kwargs: object) -> object:
        decoded.append("decode")
        return real_decode(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting)

    assert remembering.verify(token) == ANA
    assert remembering.verify(token) == ANA
    assert decoded == ["decode"]
    # Another text (a forged signature) is not the remembered token: it is verified, and refused.
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    with pytest.raises(Problem):
        remembering.verify(forged)
    assert decoded == ["decode", "decode"]
    # Past its expiry (and the leeway) on the verifier's clock, the remembered token is not taken
    # from memory: it is decoded again (which checks `exp` against the real clock).
    now[0] += timedelta(minutes=11).total_seconds()
    remembering.verify(token)
    assert decoded == ["decode", "decode", "decode"]


def test_what_the_caller_does_with_the_claims_does_not_change_the_remembered_ones() -> None:
    token = issuer.issue(ANA)
    verifier.claims(token)["partner_id"] = "ptn-other"

    assert verifier.verify(token) == ANA


def test_name_and_locale_travel_as_oidc_claims_and_come_back() -> None:
    mary = Principal("usr-mary", "partner", "ptn-acme", frozenset({"ptn-acme"}), name="Mary Smith", language="en")
    token = issuer.issue(mary)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["name"], claims["locale"]) == ("Mary Smith", "en")
    assert verifier.verify(token) == mary


def test_a_token_issued_before_the_claims_still_verifies_without_name_or_language() -> None:
    claims = jwt.decode(issuer.issue(ANA), options={"verify_signature": False})
    assert "name" not in claims and "locale" not in claims
    principal = verifier.verify(jwt.encode(claims, PRIVATE, algorithm="EdDSA"))
    assert (principal.user_id, principal.name, principal.language) == ("usr-ana", "", None)


@pytest.mark.parametrize(("name", "locale"), [(42, "fr"), (["x"], 1), (None, "EN")])
def test_odd_name_or_locale_claims_are_dropped_not_trusted(name: object, locale: object) -> None:
    claims = jwt.decode(issuer.issue(ANA), options={"verify_signature": False}) | {"name": name, "locale": locale}
    principal = verifier.verify(jwt.encode(claims, PRIVATE, algorithm="EdDSA"))
    assert (principal.name, principal.language) == ("", None)
