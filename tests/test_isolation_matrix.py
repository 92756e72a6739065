"""Every Platform API and browser API operation, called with another platform's key or another
context's token, is refused or answers with the caller's own data — never the victim's.

The operations come from the app's own OpenAPI document, and each must be classified below:
an endpoint added later fails
``test_every_api_operation_is_classified`` until someone says how it is scoped.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.flow import APP_ORIGIN, new_end_user
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.app import create_app

# How each operation is scoped:
#   victim    names the victim's object: must be refused (401/403/404)
#   own       acts on the caller's own platform or context: answers, but nothing of the victim
#   public    the same for every caller (provider templates, health)
#   platform  shared by a platform's contexts (its catalog): nothing of the victim's connections
SCOPES: dict[str, str] = {
    "GET /healthz": "public",
    "GET /readyz": "public",
    "GET /api/platform": "own",
    "GET /api/platform/providers": "public",
    "GET /api/platform/providers/{slug}": "public",
    "GET /api/platform/connectors": "own",
    "POST /api/platform/connectors": "own",
    "GET /api/platform/connectors/{slug}": "victim",
    "PATCH /api/platform/connectors/{slug}": "victim",
    "PUT /api/platform/connectors/{slug}": "own",  # create-or-update in the caller's platform
    "DELETE /api/platform/connectors/{slug}": "victim",
    "GET /api/platform/contexts": "own",
    "POST /api/platform/contexts": "own",
    "POST /api/platform/users": "own",
    "GET /api/platform/contexts/{external_id}": "victim",
    "DELETE /api/platform/contexts/{external_id}": "victim",
    "GET /api/platform/contexts/{external_id}/connections": "victim",
    "POST /api/platform/contexts/{external_id}/connections": "victim",
    "GET /api/platform/contexts/{external_id}/connections/{connector_slug}": "victim",
    "GET /api/platform/connections": "own",
    "GET /api/platform/connections/{connection_id}": "victim",
    "DELETE /api/platform/connections/{connection_id}": "victim",
    **{f"{m} /api/platform/proxy/{{connection_id}}/{{path}}": "victim"
       for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")},
    **{f"{m} /api/platform/connections/{{connection_id}}/mail/{p}": "victim"
       for m, p in (("GET", "messages"), ("POST", "messages"), ("GET", "messages/{message_id}"),
                    ("PATCH", "messages/{message_id}"), ("GET", "messages/{message_id}/raw"),
                    ("GET", "messages/{message_id}/attachments/{attachment_id}"),
                    ("GET", "folders"), ("GET", "events"), ("PUT", "events"),
                    ("DELETE", "events"))},
    "GET /api/platform/webhooks": "own",
    "POST /api/platform/webhooks": "own",
    "GET /api/platform/webhooks/{webhook_id}": "victim",
    "PATCH /api/platform/webhooks/{webhook_id}": "victim",
    "DELETE /api/platform/webhooks/{webhook_id}": "victim",
    "POST /api/platform/webhooks/{webhook_id}/resume": "victim",
    "POST /api/platform/webhooks/{webhook_id}/rotate-secret": "victim",
    "GET /api/platform/webhooks/{webhook_id}/deliveries": "victim",
    "POST /api/platform/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": "victim",
    "GET /api/platform/jwt-issuers": "own",
    "POST /api/platform/jwt-issuers": "own",
    "GET /api/platform/jwt-issuers/{issuer_id}": "victim",
    "PATCH /api/platform/jwt-issuers/{issuer_id}": "victim",
    "DELETE /api/platform/jwt-issuers/{issuer_id}": "victim",
    "GET /p/{platform_slug}/api/platform_user/origin": "public",  # no token: origin allowed?
    "GET /p/{platform_slug}/api/platform_user/session": "own",
    "POST /p/{platform_slug}/api/platform_user/session": "own",
    "GET /p/{platform_slug}/api/platform_user/platform": "own",
    "GET /p/{platform_slug}/api/platform_user/connectors": "platform",
    "GET /p/{platform_slug}/api/platform_user/connectors/{slug}": "platform",
    "GET /p/{platform_slug}/api/platform_user/connections": "own",
    "POST /p/{platform_slug}/api/platform_user/connections": "own",
    "GET /p/{platform_slug}/api/platform_user/connections/{connection_id}": "victim",
    "DELETE /p/{platform_slug}/api/platform_user/connections/{connection_id}": "victim",
    "POST /p/{platform_slug}/api/platform_user/connections/{connection_id}/reconnect": "victim",
    "GET /p/{platform_slug}/api/platform_user/authorizations/{authorization_id}": "victim",
    "POST /p/{platform_slug}/api/platform_user/authorizations/{authorization_id}/popup":
        "victim",
    "POST /p/{platform_slug}/api/platform_user/authorizations/{authorization_id}/collect":
        "victim",
    "POST /p/{platform_slug}/api/platform_user/authorizations/{authorization_id}/cancel":
        "victim",
}
BODIES: dict[str, Any] = {
    "POST /api/platform/connectors": {"provider": "outlook-email", "client_id": "intruder"},
    "PATCH /api/platform/connectors/{slug}": {"enabled": False, "name": "Hijacked"},
    "PUT /api/platform/connectors/{slug}": {"provider": "outlook-email"},
    "POST /api/platform/contexts": {"context": {"external_id": "user-1"}},
    "POST /api/platform/users": {"user": {"external_id": "user-1"}},
    "POST /api/platform/webhooks": {"url": "http://127.0.0.1:9/intruder"},
    "PATCH /api/platform/webhooks/{webhook_id}": {"url": "http://127.0.0.1:9/hijacked"},
    "POST /api/platform/connections/{connection_id}/mail/messages": {
        "to": [{"address": "intruder@example.test"}], "subject": "hijacked"},
    "PATCH /api/platform/connections/{connection_id}/mail/messages/{message_id}": {"read": True},
    "PUT /api/platform/connections/{connection_id}/mail/events": {"folders": ["inbox"]},
    "POST /api/platform/jwt-issuers": {"issuer": "https://login.victim.test",
                                       "audience": "intruder",
                                       "jwks_url": "http://127.0.0.1:9/intruder"},
    "PATCH /api/platform/jwt-issuers/{issuer_id}": {"jwks_url": "http://127.0.0.1:9/hijacked"},
    "POST /p/{platform_slug}/api/platform_user/connections": {"connector": "outlook-email"},
    "POST /api/platform/contexts/{external_id}/connections": {"connector": "outlook-email"},
    "POST /p/{platform_slug}/api/platform_user/session": {"user_jwt": "not.a.jwt"},
    "POST /p/{platform_slug}/api/platform_user/authorizations/{authorization_id}/collect":
        {"fields": {"tenant": "contoso.onmicrosoft.com"}},
}
REFUSED = {401, 403, 404}
TOKEN_PATH = "/api/platform/contexts/user-1/connections/outlook-email"


def api_operations() -> list[str]:
    schema = create_app().openapi()
    return [f"{method.upper()} {path}" for path, item in schema["paths"].items()
            for method in item if method in {"get", "post", "put", "patch", "delete", "head"}]


def test_every_api_operation_is_classified() -> None:
    operations = set(api_operations())
    assert operations - set(SCOPES) == set(), "classify these operations in SCOPES"
    assert set(SCOPES) - operations == set(), "these operations no longer exist"


def _victim(api: httpx.Client, platform: PlatformCredentials) -> dict[str, str]:
    fetched = api.get(TOKEN_PATH)
    assert fetched.status_code == 200, fetched.text
    body = fetched.json()
    connector = api.get("/api/platform/connectors/outlook-email").json()
    webhook = api.post("/api/platform/webhooks", json={"url": "http://127.0.0.1:9/victim"})
    assert webhook.status_code == 201, webhook.text
    issuer = api.post("/api/platform/jwt-issuers", json={
        "issuer": "https://login.victim.test", "audience": "victim-app",
        "jwks_url": "http://127.0.0.1:9/victim-jwks"})
    assert issuer.status_code == 201, issuer.text
    return {"issuer_id": issuer.json()["id"],
            "platform_slug": platform.slug, "platform_id": platform.platform_id,
            "webhook_id": webhook.json()["id"], "delivery_id": "no-such-delivery",
            "signing_secret": webhook.json()["signing_secret"],
            "standard_webhooks_secret": webhook.json()["standard_webhooks_secret"],
            "connection_id": body["connection"]["id"],
            "message_id": "no-such-message", "attachment_id": "no-such-attachment",
            "authorization_id": body["authorization"]["id"],
            "access_token": body["authorization"]["access_token"],
            "client_id": connector["client_id"], "account": body["authorization"]["display_label"]}


def _url(operation: str, victim: dict[str, str]) -> tuple[str, str]:
    method, path = operation.split(" ", 1)
    return method, path.format(slug="outlook-email", external_id="user-1",
                               connector_slug="outlook-email", path="me", **victim)


def _call_all(send: Any, victim: dict[str, str], prefix: str,
              markers: list[str]) -> list[str]:
    """Call every operation under ``prefix`` (victim-scoped ones first, before the caller
    creates look-alikes of its own); return what went wrong."""
    problems = []
    chosen = [op for op in SCOPES if op.split(" ", 1)[1].startswith(prefix)]
    for operation in sorted(chosen, key=lambda op: SCOPES[op] != "victim"):
        method, url = _url(operation, victim)
        response = send(method, url, BODIES.get(operation))
        # An id the caller itself sent may come back in "no connection '...'".
        leaked = [m for m in markers if m in response.text and m not in url]
        if SCOPES[operation] == "victim" and response.status_code not in REFUSED:
            problems.append(f"{operation}: {response.status_code} {response.text[:200]}")
        elif response.status_code >= 500:
            problems.append(f"{operation}: {response.status_code}")
        if leaked:
            problems.append(f"{operation} answered with the victim's {leaked}")
    return problems


def test_another_platforms_key_reaches_nothing(
    api: httpx.Client, connected: dict[str, str], platform: PlatformCredentials,
    other_platform: PlatformCredentials, xkit_server: XkitServer,
) -> None:
    victim = _victim(api, platform)
    markers = [victim[k] for k in ("platform_id", "connection_id", "authorization_id",
                                   "access_token", "client_id", "account", "webhook_id",
                                   "signing_secret", "standard_webhooks_secret", "issuer_id")]
    with other_platform.client(xkit_server) as theirs:
        problems = _call_all(lambda m, u, body: theirs.request(m, u, json=body), victim,
                             "/api/platform", markers)
    assert problems == []
    _victim_unharmed(api, victim)
    assert victim["access_token"] not in xkit_server.output()
    assert platform.secret_key not in xkit_server.output()


def test_another_platforms_or_contexts_token_reaches_nothing(
    api: httpx.Client, connected: dict[str, str], platform: PlatformCredentials,
    other_platform: PlatformCredentials, xkit_server: XkitServer,
    microsoft: MicrosoftEmulator, xkit_environment: XkitEnvironment,
) -> None:
    victim = _victim(api, platform)
    markers = [victim[k] for k in ("connection_id", "authorization_id", "access_token",
                                   "client_id", "account")]
    problems = []
    for intruder in (new_end_user(xkit_server, other_platform, "user-1"),  # other platform
                     new_end_user(xkit_server, platform, "intruder")):  # same, other context

        def send(method: str, url: str, body: Any, token: str = intruder.token) -> httpx.Response:
            return httpx.request(method, f"{xkit_server.url}{url}", json=body, timeout=30,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Origin": APP_ORIGIN})

        found = _call_all(send, victim, "/p/", markers)
        problems += [f"{intruder.platform.slug}/{p}" for p in found]
        if intruder.platform is other_platform:  # a foreign token is refused outright
            for operation in SCOPES:
                if operation.split(" ", 1)[1].startswith("/p/") and SCOPES[operation] != "public":
                    status = send(*_url(operation, victim), BODIES.get(operation)).status_code
                    if status != 401:
                        problems.append(f"foreign token on {operation}: {status}")
    assert problems == []
    _victim_unharmed(api, victim)


def _victim_unharmed(api: httpx.Client, victim: dict[str, str]) -> None:
    after = api.get(TOKEN_PATH)
    assert after.status_code == 200, after.text
    assert after.json()["authorization"]["access_token"] == victim["access_token"]
    connector = api.get("/api/platform/connectors/outlook-email").json()
    assert connector["enabled"] is True and connector["name"] != "Hijacked"
    webhook = api.get(f"/api/platform/webhooks/{victim['webhook_id']}")
    assert webhook.status_code == 200 and webhook.json()["url"] == "http://127.0.0.1:9/victim"
    issuer = api.get(f"/api/platform/jwt-issuers/{victim['issuer_id']}")
    assert issuer.status_code == 200
    assert issuer.json()["jwks_url"] == "http://127.0.0.1:9/victim-jwks"
