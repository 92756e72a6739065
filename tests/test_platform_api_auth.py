"""API keys authenticate a backend to exactly one platform."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.api.deps import CallerDep
from xkit.api.platform import declare_security


def test_basic_and_bearer_both_authenticate(
    platform: PlatformCredentials, xkit_server: XkitServer
) -> None:
    basic = httpx.get(f"{xkit_server.url}/api/platform", auth=platform.basic_auth)
    bearer = httpx.get(
        f"{xkit_server.url}/api/platform",
        headers={"Authorization": f"Bearer {platform.secret_key}"},
    )
    assert basic.status_code == bearer.status_code == 200
    assert basic.json()["slug"] == bearer.json()["slug"] == platform.slug


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer xkit_sk_not-a-real-key"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic eGtpdA=="},  # "xkit": no colon
        {"Authorization": "Digest abc"},
    ],
)
def test_missing_or_malformed_credentials_are_refused(
    headers: dict[str, str], xkit_server: XkitServer
) -> None:
    response = httpx.get(f"{xkit_server.url}/api/platform/connectors", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"missing_api_key", "invalid_api_key"}
    assert "WWW-Authenticate" in response.headers


def test_wrong_secret_for_a_real_publishable_key_is_refused(
    platform: PlatformCredentials, other_platform: PlatformCredentials, xkit_server: XkitServer
) -> None:
    wrong = httpx.get(
        f"{xkit_server.url}/api/platform",
        auth=(platform.publishable_key, platform.secret_key + "x"),
    )
    mixed = httpx.get(
        f"{xkit_server.url}/api/platform",
        auth=(platform.publishable_key, other_platform.secret_key),
    )
    assert wrong.status_code == mixed.status_code == 401


def test_revoked_key_is_refused(
    platform: PlatformCredentials, xkit_environment: XkitEnvironment, xkit_server: XkitServer
) -> None:
    assert httpx.get(f"{xkit_server.url}/api/platform", auth=platform.basic_auth).status_code == 200
    result = xkit_environment.run_cli(
        "keys", "revoke", platform.publishable_key, "--platform", platform.slug
    )
    assert result.returncode == 0, result.stderr
    response = httpx.get(f"{xkit_server.url}/api/platform", auth=platform.basic_auth)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_one_platforms_key_cannot_see_anothers_connector(
    platform: PlatformCredentials, other_platform: PlatformCredentials, xkit_server: XkitServer
) -> None:
    with other_platform.client(xkit_server) as theirs:
        created = theirs.post(
            "/api/platform/connectors",
            json={
                "provider": "outlook-email",
                "slug": "their-outlook",
                "client_id": "their-client",
                "client_secret": "their-secret",
            },
        )
        assert created.status_code == 201, created.text
        theirs.post("/api/platform/contexts", json={"context": {"external_id": "their-user"}})
    with platform.client(xkit_server) as mine:
        assert mine.get("/api/platform/connectors/their-outlook").status_code == 404
        assert (
            mine.patch(
                "/api/platform/connectors/their-outlook", json={"enabled": False}
            ).status_code
            == 404
        )
        assert mine.delete("/api/platform/connectors/their-outlook").status_code == 404
        assert mine.get("/api/platform/contexts/their-user").status_code == 404
        assert mine.delete("/api/platform/contexts/their-user").status_code == 404
        listed = mine.get("/api/platform/connectors").json()["connectors"]
        assert "their-outlook" not in [c["slug"] for c in listed]
    with other_platform.client(xkit_server) as theirs:
        still = theirs.get("/api/platform/connectors/their-outlook").json()
        assert still["enabled"] is True
        assert theirs.get("/api/platform/contexts/their-user").status_code == 200


def test_the_openapi_schema_declares_both_ways_to_send_the_api_key(
    xkit_server: XkitServer,
) -> None:
    """So the "Authorize" button of /docs works, and generated clients know how to sign in."""
    schema = httpx.get(f"{xkit_server.url}/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert {(s["type"], s["scheme"]) for s in schemes.values()} == {
        ("http", "basic"), ("http", "bearer")}
    either = [{name: []} for name in schemes]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/api/platform") and not path.startswith("/api/platform_user"):
                assert sorted(map(str, operation["security"])) == sorted(map(str, either)), (
                    method, path)
    assert "security" not in schema["paths"]["/healthz"]["get"]


def test_a_new_route_that_takes_the_caller_declares_the_api_key_without_more() -> None:
    """The schemes come with the dependency: a route added under the Platform API declares
    them by taking a ``CallerDep``, and a route that takes none declares nothing."""
    router = APIRouter(prefix="/reports")

    @router.get("/{report_id}")
    async def one_report(report_id: str, caller: CallerDep) -> dict[str, str]:
        return {"platform": caller.platform.id}

    @router.get("/public/ping")
    async def ping() -> dict[str, str]:
        return {}

    app = FastAPI()
    app.include_router(router, prefix="/api/platform")
    schema = app.openapi()
    declare_security(schema, [(router, "/api/platform")])
    assert schema["paths"]["/api/platform/reports/{report_id}"]["get"]["security"] == [
        {"ApiKeyBasic": []}, {"ApiKeyBearer": []}]
    assert "security" not in schema["paths"]["/api/platform/reports/public/ping"]["get"]
    assert set(schema["components"]["securitySchemes"]) == {"ApiKeyBasic", "ApiKeyBearer"}


def test_provider_templates_are_typed_in_the_schema(xkit_server: XkitServer) -> None:
    schema = httpx.get(f"{xkit_server.url}/openapi.json").json()
    listed = schema["paths"]["/api/platform/providers"]["get"]["responses"]["200"]
    one = schema["paths"]["/api/platform/providers/{slug}"]["get"]["responses"]["200"]
    assert listed["content"]["application/json"]["schema"]["$ref"].endswith("/ProviderList")
    assert one["content"]["application/json"]["schema"]["$ref"].endswith("/ProviderDetail")
    detail = schema["components"]["schemas"]["ProviderDetail"]["properties"]
    assert {"scopes", "settings", "oauth2", "setup_guide", "required_scopes"} <= set(detail)
