"""Signing in to the browser API with the app's own user JWT: a platform registers its login
system as a JWT issuer, and xkit.js trades the JWT the app already has for a session.

The app's issuer here is a real JWKS served over HTTP (tests/support/jwks.py) with keys made by
``cryptography``; the browser test with oidc-provider's real id_tokens is
tests/test_xkit_js_user_jwt.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from tests.support.jwks import Issuer, JwksServer, SigningKey
from tests.support.xkit import PlatformCredentials, XkitServer
from xkit.errors import InvalidInput, ServiceUnavailable
from xkit.services.configuration.jwt_issuers import IssuerPolicy, check_fields
from xkit.services.connect.user_jwt import JwksCache


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.stop()


@pytest.fixture
def login_system(jwks_server: JwksServer, api: httpx.Client) -> Issuer:
    """The app's login system, registered as the platform's JWT issuer."""
    issuer = jwks_server.new_issuer()
    response = api.post("/api/platform/jwt-issuers", json={
        "issuer": issuer.issuer, "audience": issuer.audience, "jwks_url": issuer.jwks_url,
        "name_claim": "name", "algorithms": ["RS256", "ES256"]})
    assert response.status_code == 201, response.text
    return issuer


def sign_in(server: XkitServer, platform: PlatformCredentials, token: str) -> httpx.Response:
    """What xkit.js does with ``xkit.login({userJwt})``."""
    return httpx.post(f"{server.url}/p/{platform.slug}/api/platform_user/session",
                      json={"user_jwt": token}, timeout=30)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with_public_key(key: SigningKey, claims: dict[str, Any]) -> str:
    """The classic attack: HS256 "signed" with the issuer's public key (which anyone can read
    in its JWKS) as the HMAC secret. PyJWT refuses to make one, so it is made by hand."""
    public_pem = key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = ".".join([
        _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode()),
        _b64(json.dumps(claims).encode())])
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def unsigned(key: SigningKey, claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": key.kid}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def test_a_valid_user_jwt_signs_in_as_its_user(
        xkit_server: XkitServer, platform: PlatformCredentials, api: httpx.Client,
        login_system: Issuer) -> None:
    user_jwt = login_system.token("user-7")
    response = sign_in(xkit_server, platform, user_jwt)
    assert response.status_code == 201, response.text
    session = response.json()
    assert session["context"] == {"external_id": "user-7", "external_name": "Grace Hopper"}
    assert session["platform"]["slug"] == platform.slug
    assert session["token_type"] == "bearer"

    # The answer's token is the usual context token: the whole browser API takes it.
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    base = f"{xkit_server.url}/p/{platform.slug}/api/platform_user"
    assert httpx.get(f"{base}/session", headers=headers).json()["context"]["external_id"] == \
        "user-7"
    assert httpx.get(f"{base}/connectors", headers=headers).status_code == 200

    # The backend sees the context, created on first sight, named by the name claim.
    context = api.get("/api/platform/contexts/user-7")
    assert context.status_code == 200, context.text
    assert context.json()["external_name"] == "Grace Hopper"
    # Signing in again is the same context.
    again = sign_in(xkit_server, platform, login_system.token("user-7"))
    assert again.json()["context"]["external_id"] == "user-7"
    assert user_jwt not in xkit_server.output()


def test_the_session_lives_no_longer_than_the_jwt(
        xkit_server: XkitServer, platform: PlatformCredentials, login_system: Issuer) -> None:
    exp = int(time.time()) + 90
    response = sign_in(xkit_server, platform, login_system.token(exp=exp))
    assert response.status_code == 201, response.text
    expires_at = dt.datetime.fromisoformat(response.json()["expires_at"])
    assert expires_at.timestamp() <= exp + 30  # the JWT's exp, with the leeway at most


def test_an_es256_key_works_when_the_issuer_allows_it(
        xkit_server: XkitServer, platform: PlatformCredentials, login_system: Issuer) -> None:
    ec_key = SigningKey.ec()
    login_system.publish(login_system.keys[0], ec_key)
    response = sign_in(xkit_server, platform, login_system.token("user-ec", key=ec_key))
    assert response.status_code == 201, response.text


REFUSALS: dict[str, tuple[str, Any]] = {
    "forged: another key with the same kid": (
        "jwt_signature",
        lambda issuer: SigningKey.rsa(kid=issuer.keys[0].kid).sign(issuer.claims())),
    "expired": ("jwt_expired", lambda issuer: issuer.token(exp=int(time.time()) - 120)),
    "not yet valid": ("jwt_not_yet_valid",
                      lambda issuer: issuer.token(nbf=int(time.time()) + 300)),
    "issued in the future": ("jwt_not_yet_valid",
                             lambda issuer: issuer.token(iat=int(time.time()) + 300)),
    "wrong audience": ("jwt_audience", lambda issuer: issuer.token(aud="someone-else")),
    "unknown issuer": ("jwt_issuer_unknown",
                       lambda issuer: issuer.token(iss="https://evil.example.test/")),
    "alg none": ("jwt_algorithm", lambda issuer: unsigned(issuer.keys[0], issuer.claims())),
    "HS256 with the public key as secret": (
        "jwt_algorithm", lambda issuer: hs256_with_public_key(issuer.keys[0], issuer.claims())),
    "an algorithm the issuer does not allow": (
        "jwt_algorithm", lambda issuer: issuer.keys[0].sign(issuer.claims(), alg="PS256")),
    "no exp": ("jwt_claims", lambda issuer: issuer.token(exp=None)),
    "no user id": ("jwt_claims", lambda issuer: issuer.token(sub=None)),
    "a user id that cannot be a context": ("jwt_claims", lambda issuer: issuer.token(sub="a/b")),
    "not a JWT": ("jwt_malformed", lambda issuer: "not-a-jwt"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_bad_user_jwt_is_refused_with_its_reason(
        case: str, xkit_server: XkitServer, platform: PlatformCredentials,
        login_system: Issuer) -> None:
    code, make = REFUSALS[case]
    token = make(login_system)
    response = sign_in(xkit_server, platform, token)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert token not in response.text
    if len(token) > 20:
        assert token not in xkit_server.output()


def test_another_platforms_issuer_signs_nobody_in(
        xkit_server: XkitServer, other_platform: PlatformCredentials,
        login_system: Issuer) -> None:
    response = sign_in(xkit_server, other_platform, login_system.token())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "jwt_issuer_unknown"


def test_a_disabled_issuer_signs_nobody_in(
        xkit_server: XkitServer, platform: PlatformCredentials, api: httpx.Client,
        login_system: Issuer) -> None:
    issuer_id = api.get("/api/platform/jwt-issuers").json()["jwt_issuers"][0]["id"]
    assert api.patch(f"/api/platform/jwt-issuers/{issuer_id}",
                     json={"enabled": False}).status_code == 200
    response = sign_in(xkit_server, platform, login_system.token())
    assert response.json()["error"]["code"] == "jwt_issuer_unknown"


def test_a_rotated_key_is_fetched_once_and_made_up_kids_fetch_nothing(
        xkit_server: XkitServer, platform: PlatformCredentials, login_system: Issuer) -> None:
    first = login_system.keys[0]
    assert sign_in(xkit_server, platform, login_system.token()).status_code == 201
    assert login_system.fetches == 1
    assert sign_in(xkit_server, platform, login_system.token()).status_code == 201
    assert login_system.fetches == 1  # cached

    rotated = SigningKey.rsa()
    login_system.publish(first, rotated)
    response = sign_in(xkit_server, platform, login_system.token(key=rotated))
    assert response.status_code == 201, response.text
    assert login_system.fetches == 2  # the unknown kid made xkit look once more

    for _ in range(5):  # a flood of made-up kids
        made_up = SigningKey.rsa()
        response = sign_in(xkit_server, platform, login_system.token(key=made_up))
        assert response.json()["error"]["code"] == "jwt_key_unknown"
    assert login_system.fetches == 2


def test_an_unreachable_jwks_is_a_503_not_a_500(
        xkit_server: XkitServer, platform: PlatformCredentials, api: httpx.Client,
        jwks_server: JwksServer) -> None:
    issuer = jwks_server.new_issuer()
    response = api.post("/api/platform/jwt-issuers", json={
        "issuer": issuer.issuer, "audience": issuer.audience,
        "jwks_url": f"{jwks_server.url}/no-such-jwks"})
    assert response.status_code == 201, response.text
    response = sign_in(xkit_server, platform, issuer.token())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "jwks_unavailable"


# --- the Platform API ----------------------------------------------------------------------


def test_issuers_are_created_read_changed_and_removed(api: httpx.Client,
                                                      jwks_server: JwksServer) -> None:
    issuer = jwks_server.new_issuer()
    created = api.post("/api/platform/jwt-issuers", json={
        "issuer": issuer.issuer, "audience": issuer.audience, "jwks_url": issuer.jwks_url})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["user_id_claim"] == "sub" and body["name_claim"] is None
    assert body["algorithms"] == ["RS256"] and body["enabled"] is True

    listed = api.get("/api/platform/jwt-issuers").json()["jwt_issuers"]
    assert [i["id"] for i in listed] == [body["id"]]
    changed = api.patch(f"/api/platform/jwt-issuers/{body['id']}",
                        json={"name_claim": "email", "algorithms": ["ES256", "EdDSA"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["name_claim"] == "email"
    assert changed.json()["algorithms"] == ["ES256", "EdDSA"]

    again = api.post("/api/platform/jwt-issuers", json={
        "issuer": issuer.issuer, "audience": "x", "jwks_url": issuer.jwks_url})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "jwt_issuer_exists"

    assert api.delete(f"/api/platform/jwt-issuers/{body['id']}").json() == {"deleted": True}
    assert api.get(f"/api/platform/jwt-issuers/{body['id']}").status_code == 404


def test_every_problem_is_reported_at_once(api: httpx.Client) -> None:
    response = api.post("/api/platform/jwt-issuers", json={
        "issuer": " ", "audience": "", "jwks_url": "ftp://keys.example.com",
        "user_id_claim": "user id", "algorithms": ["HS256"]})
    assert response.status_code == 422
    errors = response.json()["error"]["details"]["errors"]
    assert set(errors) == {"issuer", "audience", "jwks_url", "user_id_claim", "algorithms"}
    assert "HS256" in errors["algorithms"]


@pytest.mark.parametrize("algorithms", [["none"], ["HS256"], ["HS512", "RS256"], []])
def test_symmetric_and_none_algorithms_are_refused(api: httpx.Client,
                                                   algorithms: list[str]) -> None:
    response = api.post("/api/platform/jwt-issuers", json={
        "issuer": "https://login.example.test/", "audience": "a",
        "jwks_url": "https://login.example.test/jwks", "algorithms": algorithms})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["field"] == "algorithms"


@pytest.mark.database_independent
@pytest.mark.parametrize(("url", "allowed"), [
    ("https://login.example.com/.well-known/jwks.json", True),
    ("http://login.example.com/.well-known/jwks.json", False),
    ("https://localhost/jwks", False),
    ("https://127.0.0.1:8443/jwks", False),
    ("https://[::ffff:10.0.0.1]/jwks", False),
])
def test_jwks_urls_must_be_public_https_unless_private_networks_are_allowed(
        url: str, allowed: bool) -> None:
    fields = {"issuer": "https://login.example.com/", "audience": "a", "jwks_url": url}
    if allowed:
        assert check_fields(fields, IssuerPolicy(), partial=False)["jwks_url"] == url
    else:
        with pytest.raises(InvalidInput) as refused:
            check_fields(fields, IssuerPolicy(), partial=False)
        assert "XKIT_PROVIDER_ALLOW_PRIVATE_NETWORKS" in refused.value.message
    check_fields(fields, IssuerPolicy(allow_private_networks=True), partial=False)


# --- the JWKS cache ------------------------------------------------------------------------


@pytest.mark.database_independent
async def test_the_jwks_cache_refetches_after_its_ttl_and_keeps_keys_when_the_issuer_is_down(
        jwks_server: JwksServer) -> None:
    issuer = jwks_server.new_issuer()
    now = [1000.0]
    async with httpx.AsyncClient() as http:
        cache = JwksCache(http, ttl=600, refetch_interval=30, clock=lambda: now[0])
        first = await cache.keys(issuer.jwks_url)
        assert [k["kid"] for k in first] == [issuer.keys[0].kid]
        now[0] += 599
        await cache.keys(issuer.jwks_url)
        assert issuer.fetches == 1

        rotated = SigningKey.rsa()
        issuer.publish(rotated)
        now[0] += 2
        assert [k["kid"] for k in await cache.keys(issuer.jwks_url)] == [rotated.kid]
        assert issuer.fetches == 2

        jwks_server.issuers.pop(issuer.path)  # the issuer's JWKS goes away (404)
        now[0] += 601
        assert [k["kid"] for k in await cache.keys(issuer.jwks_url)] == [rotated.kid]
        assert issuer.fetches == 3
        await cache.keys(issuer.jwks_url)  # down: not asked again straight away
        assert issuer.fetches == 3

        with pytest.raises(ServiceUnavailable):
            await cache.keys(f"{jwks_server.url}/{secrets.token_hex(4)}")

