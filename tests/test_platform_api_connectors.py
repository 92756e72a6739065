"""Connectors as configuration: create, read, change, delete, with a write-only secret."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.database import raw_dump
from tests.support.flow import new_end_user
from tests.support.xkit import (
    PlatformCredentials,
    XkitEnvironment,
    XkitServer,
    seed_connector_without_template,
)

OUTLOOK = {
    "provider": "outlook-email",
    "client_id": "11111111-2222-3333-4444-555555555555",
    "client_secret": "Zq8~known-client-secret-value",
    "scopes": ["Mail.Read", "Mail.Send"],
}


def test_create_outlook_connector_with_defaults_and_required_scopes(
    api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer
) -> None:
    response = api.post("/api/platform/connectors", json=OUTLOOK)
    assert response.status_code == 201, response.text
    connector = response.json()
    assert connector["slug"] == "outlook-email"
    assert connector["name"] == "Outlook Email"
    assert connector["scopes"] == ["Mail.Read", "Mail.Send"]
    assert connector["effective_scopes"][0] == "offline_access"
    assert set(connector["effective_scopes"]) == {"offline_access", "Mail.Read", "Mail.Send"}
    assert connector["client_secret_set"] is True and connector["ready"] is True
    assert connector["settings"]["tenant"] == "common"
    assert connector["callback_url"] == f"{xkit_server.url}/p/{platform.slug}/callback"
    assert "client_secret" not in connector
    assert OUTLOOK["client_secret"] not in response.text


def test_secret_is_never_returned_and_never_stored_in_plaintext(
    api: httpx.Client, xkit_environment: XkitEnvironment
) -> None:
    api.post("/api/platform/connectors", json=OUTLOOK).raise_for_status()
    texts = [
        api.get("/api/platform/connectors").text,
        api.get("/api/platform/connectors/outlook-email").text,
        api.patch("/api/platform/connectors/outlook-email", json={"name": "Mail"}).text,
    ]
    assert all(OUTLOOK["client_secret"] not in text for text in texts)
    assert OUTLOOK["client_secret"].encode() not in raw_dump(xkit_environment.database_url)


def test_update_replaces_secret_and_settings_and_keeps_the_rest(api: httpx.Client) -> None:
    first = api.post("/api/platform/connectors", json=OUTLOOK).json()
    changed = api.patch(
        "/api/platform/connectors/outlook-email",
        json={
            "client_secret": "a-new-secret",
            "settings": {"tenant": "organizations"},
            "enabled": False,
            "description": "**Read** your mail",
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["settings"]["tenant"] == "organizations"
    assert body["enabled"] is False and body["description"] == "**Read** your mail"
    assert body["client_id"] == OUTLOOK["client_id"]
    assert body["client_secret_set_at"] >= first["client_secret_set_at"]


def test_required_scope_cannot_be_dropped(api: httpx.Client) -> None:
    api.post("/api/platform/connectors", json=OUTLOOK).raise_for_status()
    body = api.patch(
        "/api/platform/connectors/outlook-email", json={"scopes": ["User.Read"]}
    ).json()
    assert body["effective_scopes"][0] == "offline_access"
    assert "offline_access" in body["required_scopes"]


def test_put_is_create_or_update_by_slug(api: httpx.Client) -> None:
    created = api.put("/api/platform/connectors/mail", json=OUTLOOK)
    assert created.status_code == 201, created.text
    updated = api.put("/api/platform/connectors/mail", json={**OUTLOOK, "name": "Work mail"})
    assert updated.status_code == 200 and updated.json()["name"] == "Work mail"
    assert [c["slug"] for c in api.get("/api/platform/connectors").json()["connectors"]] == ["mail"]


def test_delete_reports_connections_removed(api: httpx.Client) -> None:
    api.post("/api/platform/connectors", json=OUTLOOK).raise_for_status()
    deleted = api.delete("/api/platform/connectors/outlook-email")
    assert deleted.status_code == 200
    assert deleted.json() == {"deleted": True, "connections_removed": 0}
    assert api.get("/api/platform/connectors/outlook-email").status_code == 404


def test_custom_oauth2_connector_takes_its_endpoints_as_settings(api: httpx.Client) -> None:
    response = api.post(
        "/api/platform/connectors",
        json={
            "provider": "oauth2",
            "slug": "acme-crm",
            "name": "Acme CRM",
            "client_id": "abc",
            "client_secret": "def",
            "scopes": ["crm.read", "crm.write"],
            "settings": {
                "authorize_url": "https://auth.acme.test/authorize",
                "token_url": "https://auth.acme.test/token",
            },
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["scopes"] == ["crm.read", "crm.write"]


def test_providers_are_listed_and_shown(api: httpx.Client) -> None:
    providers = api.get("/api/platform/providers").json()["providers"]
    assert {"outlook-email", "oauth2"} <= {p["slug"] for p in providers}
    outlook = api.get("/api/platform/providers/outlook-email").json()
    assert "offline_access" in outlook["required_scopes"]
    assert api.get("/api/platform/providers/nope").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"provider": "no-such-provider"}, 422, "unknown_provider"),
        ({"client_id": "x"}, 422, "invalid_input"),
        ({"provider": "outlook-email", "slug": "Bad Slug!"}, 422, "invalid_input"),
        (
            {"provider": "outlook-email", "scopes": ["Mail.Read", "Not.AScope"]},
            422,
            "invalid_scope",
        ),
        ({"provider": "outlook-email", "scopes": "Mail.Read"}, 422, "invalid_input"),
        (
            {"provider": "outlook-email", "settings": {"login_host": "https://evil.example/x"}},
            422,
            "invalid_setting",
        ),
        (
            {"provider": "outlook-email", "settings": {"no_such_setting": "1"}},
            422,
            "invalid_setting",
        ),
        ({"provider": "outlook-email", "client_id": "has spaces in it"}, 422, "invalid_input"),
        ({"provider": "outlook-email", "name": "Mail\u0000"}, 422, "invalid_input"),
        ({"provider": "outlook-email", "client_secret": "s3cr\u0000t"}, 422, "invalid_input"),
        ({"provider": "outlook-email", "colour": "blue"}, 422, "invalid_input"),
        ({"provider": "outlook-email", "enabled": "maybe"}, 422, "invalid_input"),
        (
            {"provider": "oauth2", "settings": {"authorize_url": "http://x.test/a"}},
            422,
            "invalid_setting",
        ),
    ],
)
def test_bad_connector_input_is_refused_and_nothing_is_created(
    api: httpx.Client, body: dict[str, object], status: int, code: str
) -> None:
    response = api.post("/api/platform/connectors", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert api.get("/api/platform/connectors").json()["connectors"] == []


def test_duplicate_slug_is_a_conflict(api: httpx.Client) -> None:
    api.post("/api/platform/connectors", json=OUTLOOK).raise_for_status()
    again = api.post("/api/platform/connectors", json=OUTLOOK)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "slug_taken"


def test_malformed_json_and_wrong_content_are_clear_4xx(api: httpx.Client) -> None:
    broken = api.post(
        "/api/platform/connectors",
        content=b'{"provider": ',
        headers={"Content-Type": "application/json"},
    )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    not_object = api.post("/api/platform/connectors", json=["outlook-email"])
    assert not_object.status_code == 422
    empty = api.post("/api/platform/connectors")
    assert empty.status_code == 422


def test_oversize_body_is_refused(api: httpx.Client) -> None:
    huge = {"provider": "outlook-email", "description": "x" * 2_000_000}
    response = api.post("/api/platform/connectors", json=huge)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_unknown_connector_and_route_are_json_404(api: httpx.Client) -> None:
    assert api.get("/api/platform/connectors/nope").json()["error"]["code"] == "connector_not_found"
    missing_route = api.get("/api/platform/nothing-here")
    assert missing_route.status_code == 404 and "error" in missing_route.json()
    wrong_method = api.request("TRACE", "/api/platform/connectors")
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()


# --- explicit nulls ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "field",
    ["slug", "name", "client_secret", "scopes", "settings", "enabled", "multiple_connections"],
)
@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_null_is_refused_for_fields_that_always_hold_a_value(
    api: httpx.Client, field: str, method: str
) -> None:
    before = api.post("/api/platform/connectors", json=OUTLOOK).json()
    body = {field: None} if method == "PATCH" else {**OUTLOOK, field: None}
    response = api.request(method, "/api/platform/connectors/outlook-email", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["message"].startswith(f"{field}: ") and "cannot be null" in error["message"]
    after = api.get("/api/platform/connectors/outlook-email").json()
    assert after == before


def test_null_clears_the_fields_that_may_be_empty(api: httpx.Client) -> None:
    api.post(
        "/api/platform/connectors",
        json={**OUTLOOK, "logo_url": "https://acme.test/logo.png", "description": "Mail"},
    ).raise_for_status()
    cleared = api.patch(
        "/api/platform/connectors/outlook-email",
        json={"logo_url": None, "description": None, "short_description": None,
              "client_id": None},
    )
    assert cleared.status_code == 200, cleared.text
    body = cleared.json()
    assert (body["logo_url"], body["description"], body["short_description"]) == (None, "", "")
    assert body["client_id"] is None and body["ready"] is False
    assert body["client_secret_set"] is True


def test_the_schema_says_which_fields_refuse_null(api: httpx.Client) -> None:
    schema = api.get("/openapi.json").json()["components"]["schemas"]["ConnectorUpdate"]
    fields = schema["properties"]
    assert fields["scopes"]["type"] == "array" and "default" not in fields["scopes"]
    assert "Not nullable" in fields["enabled"]["description"]
    assert {"type": "null"} in fields["logo_url"]["anyOf"]


# --- races ------------------------------------------------------------------------------------

def _at_once(count: int, call: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """``count`` requests sent together from as many threads, as parallel deploys would."""
    start = threading.Barrier(count)

    def one() -> httpx.Response:
        start.wait()
        return call()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: one(), range(count)))


def test_parallel_creates_of_one_slug_make_one_connector_and_clear_conflicts(
    platform: PlatformCredentials, xkit_server: XkitServer, api: httpx.Client
) -> None:
    def create() -> httpx.Response:
        with platform.client(xkit_server) as client:
            return client.post("/api/platform/connectors", json={**OUTLOOK, "slug": "mail"})

    responses = _at_once(6, create)
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5, [
        r.text for r in responses
    ]
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "slug_taken"
    }
    assert [c["slug"] for c in api.get("/api/platform/connectors").json()["connectors"]] == [
        "mail"
    ]


def test_parallel_puts_of_one_configuration_all_succeed(
    platform: PlatformCredentials, xkit_server: XkitServer, api: httpx.Client
) -> None:
    def put() -> httpx.Response:
        with platform.client(xkit_server) as client:
            return client.put("/api/platform/connectors/mail", json=OUTLOOK)

    responses = _at_once(4, put)
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201], [
        r.text for r in responses
    ]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(api.get("/api/platform/connectors").json()["connectors"]) == 1


# --- a connector whose provider template is gone ----------------------------------------------

def test_a_connector_whose_template_is_gone_is_shown_not_ready_and_can_be_deleted(
    api: httpx.Client, platform: PlatformCredentials, xkit_environment: XkitEnvironment,
    xkit_server: XkitServer,
) -> None:
    api.post("/api/platform/connectors", json=OUTLOOK).raise_for_status()
    connection_id = seed_connector_without_template(xkit_environment, platform)

    one = api.get("/api/platform/connectors/crm")
    assert one.status_code == 200, one.text
    body = one.json()
    assert (body["provider"], body["ready"], body["auth_type"]) == ("retired-crm", False, None)
    assert body["problem"]["code"] == "provider_missing"
    assert "retired-crm" in body["problem"]["message"]
    listed = {c["slug"]: c for c in api.get("/api/platform/connectors").json()["connectors"]}
    assert listed["crm"]["problem"]["code"] == "provider_missing"
    assert listed["outlook-email"]["problem"] is None and listed["outlook-email"]["ready"]

    changed = api.patch("/api/platform/connectors/crm", json={"name": "New CRM"})
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "provider_missing"

    # End users never see it; their connection to it is listed, and connecting is refused.
    end_user = new_end_user(xkit_server, platform, "user-1")
    catalog = end_user.api("GET", "/connectors").json()["connectors"]
    assert [c["slug"] for c in catalog] == ["outlook-email"]
    [mine] = end_user.api("GET", "/connections").json()["connections"]
    assert mine["id"] == connection_id and mine["connector"]["slug"] == "crm"
    refused = end_user.api("POST", "/connections", json={"connector": "crm"})
    assert refused.status_code == 404
    assert httpx.get(f"{end_user.base}/connectors/crm").status_code == 200  # the page shell

    deleted = api.delete("/api/platform/connectors/crm")
    assert deleted.json() == {"deleted": True, "connections_removed": 1}
