"""API keys and passwords: typed by the end user, checked with the provider, then proxied.

Trello (``api_key``: key and token in Trello's OAuth-style header) and Stripe (``basic``: the
secret key as the user name) against the services emulator, through the real popup pages
and the browser API.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.emulators.services.fixture import ServicesEmulator
from tests.support.database import raw_dump
from tests.support.flow import APP_ORIGIN, collect_form, new_end_user, with_opener
from tests.support.processes import free_port
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit_client import Xkit, XkitError


def _connector(api: httpx.Client, provider: str, services: ServicesEmulator) -> dict[str, Any]:
    created = api.post("/api/platform/connectors",
                       json={"provider": provider, "settings": {"api_host": services.host}})
    assert created.status_code == 201, created.text
    return created.json()


def _trello_member(services: ServicesEmulator) -> dict[str, str]:
    credentials = {"api_key": secrets.token_hex(16), "api_token": secrets.token_hex(32)}
    services.add_trello_member(username=f"ada{secrets.token_hex(2)}", full_name="Ada Lovelace",
                               boards=[{"id": "b1", "name": "Roadmap"}], **credentials)
    return credentials


def test_a_wrong_trello_token_is_refused_in_the_popup_and_the_right_one_connects(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    xkit_environment: XkitEnvironment,
    services: ServicesEmulator,
) -> None:
    connector = _connector(api, "trello", services)
    assert connector["ready"] and connector["auth_type"] == "api_key"
    good = _trello_member(services)
    user = new_end_user(xkit_server, platform, "trello-user")
    created = user.api("POST", "/connections", json={"connector": "trello"}).json()
    authorization_id = created["authorization"]["id"]
    link = user.api("POST", f"/authorizations/{authorization_id}/popup").json()["url"]
    form = httpx.get(with_opener(link, APP_ORIGIN))
    assert form.status_code == 200
    assert 'id="field-api_key"' in form.text and 'id="field-api_token"' in form.text

    wrong_token = secrets.token_hex(32)
    action, hidden = collect_form(form)
    refused = httpx.post(f"{xkit_server.url}{action}",
                         data={**hidden, "api_key": good["api_key"], "api_token": wrong_token})
    assert refused.status_code == 400
    assert 'id="collect-error"' in refused.text and "Trello didn" in refused.text
    assert good["api_key"] in refused.text  # the plain-text key is kept for the retry...
    assert wrong_token not in refused.text  # ...the secret token is not echoed back
    assert user.api("GET", f"/authorizations/{authorization_id}").json()["status"] == \
        "awaiting_callback"

    action, hidden = collect_form(refused)
    connected = httpx.post(f"{xkit_server.url}{action}", data={**hidden, **good})
    assert connected.status_code == 200, connected.text
    assert "Connected" in connected.text and "postMessage" in connected.text

    body = api.get("/api/platform/contexts/trello-user/connections/trello").json()
    authorization = body["authorization"]
    assert authorization["status"] == "active"
    assert authorization["display_label"].startswith("ada")
    assert authorization["credentials"] == good
    assert authorization["access_token"] is None and authorization["expires_at"] is None

    boards = api.get(f"/api/platform/proxy/{body['connection']['id']}/members/me/boards")
    assert boards.status_code == 200 and boards.json() == [{"id": "b1", "name": "Roadmap"}]
    calls = [r for r in services.requests() if r["path"] == "/1/members/me/boards"]
    assert calls[-1]["auth_scheme"] == "OAuth" and calls[-1]["query"] == {}

    dump = raw_dump(xkit_environment.database_url)
    assert good["api_token"].encode() not in dump and wrong_token.encode() not in dump


def test_stripe_keys_are_checked_through_the_browser_api_and_sent_as_basic_auth(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    services: ServicesEmulator,
) -> None:
    _connector(api, "stripe", services)
    key = f"sk_test_{secrets.token_hex(12)}"
    services.add_stripe_account(email="books@acme.test", display_name="Acme Books",
                                secret_key=key, customers=[{"id": "cus_1", "object": "customer"}])
    user = new_end_user(xkit_server, platform, "stripe-user")
    created = user.api("POST", "/connections", json={"connector": "stripe"}).json()
    path = f"/authorizations/{created['authorization']['id']}/collect"

    malformed = user.api("POST", path, json={"fields": {"secret_key": "pk_test_nope"}})
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "invalid_field"
    unknown = user.api("POST", path,
                       json={"fields": {"secret_key": f"sk_test_{secrets.token_hex(12)}"}})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "invalid_credentials"
    assert "Stripe didn" in unknown.json()["error"]["message"]

    accepted = user.api("POST", path, json={"fields": {"secret_key": key}})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "active"
    assert accepted.json()["display_label"] == "Acme Books"

    connection = api.get("/api/platform/contexts/stripe-user/connections/stripe").json()
    assert connection["authorization"]["credentials"] == {"secret_key": key}
    with Xkit(xkit_server.url, platform.publishable_key, platform.secret_key) as sdk:
        assert sdk.get_connection("stripe-user", "stripe").credentials == {"secret_key": key}
        with pytest.raises(XkitError) as not_a_service_account:
            sdk.get_connection("stripe-user", "stripe", subject="someone@acme.test")
    assert not_a_service_account.value.code == "subject_not_supported"
    customers = api.get(f"/api/platform/proxy/{connection['connection']['id']}/customers")
    assert customers.status_code == 200 and customers.json()["data"][0]["id"] == "cus_1"
    assert [r["auth_scheme"] for r in services.requests() if r["path"] == "/v1/customers"][-1] \
        == "Basic"
    again = user.api("POST", path, json={"fields": {"secret_key": key}})
    assert again.status_code == 409  # the authorization took its answer once


def test_a_provider_that_cannot_be_reached_asks_to_try_again_and_loses_nothing(
    api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer,
) -> None:
    nobody_listens = f"127.0.0.1:{free_port()}"
    created = api.post("/api/platform/connectors",
                       json={"provider": "stripe", "settings": {"api_host": nobody_listens}})
    assert created.status_code == 201, created.text
    user = new_end_user(xkit_server, platform, "offline-user")
    authorization = user.api("POST", "/connections", json={"connector": "stripe"}).json()
    path = f"/authorizations/{authorization['authorization']['id']}"
    key = f"sk_test_{secrets.token_hex(12)}"
    answer = user.api("POST", f"{path}/collect", json={"fields": {"secret_key": key}})
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "provider_unavailable"
    assert key not in answer.text
    assert user.api("GET", path).json()["status"] == "awaiting_callback"
