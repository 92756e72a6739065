"""Contexts and the short-lived context tokens handed to xkit.js."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
import jwt
import pytest

from tests.support.database import backend
from tests.support.statements import Call, answered_counting
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer


def test_create_then_update_a_context_and_get_a_token(
    api: httpx.Client, platform: PlatformCredentials
) -> None:
    created = api.post(
        "/api/platform/contexts",
        json={"context": {"external_id": "user-42", "external_name": "Ada", "plan": "pro"}},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["context"]["external_id"] == "user-42"
    assert body["context"]["attributes"] == {"plan": "pro"}
    assert 0 < body["expires_in"] <= 3600
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["plt"] == platform.platform_id and claims["sub"] == body["context"]["id"]
    assert claims["exp"] > time.time()

    updated = api.post(
        "/api/platform/contexts",
        json={
            "context": {
                "external_id": "user-42",
                "external_name": "Ada L.",
                "attributes": {"seats": 3},
            }
        },
    )
    assert updated.status_code == 200
    assert updated.json()["context"]["id"] == body["context"]["id"]
    assert updated.json()["context"]["external_name"] == "Ada L."
    assert updated.json()["context"]["attributes"] == {"plan": "pro", "seats": 3}


def test_a_returning_users_page_load_changes_nothing(api: httpx.Client) -> None:
    """Backends post the context on every page load; the same values again are not a write."""
    sent = {"context": {"external_id": "user-43", "external_name": "Grace", "plan": "team"}}
    first = api.post("/api/platform/contexts", json=sent).json()["context"]
    time.sleep(0.05)
    again = api.post("/api/platform/contexts", json=sent)
    assert again.status_code == 200
    assert again.json()["context"] == first
    time.sleep(0.05)
    renamed = api.post("/api/platform/contexts",
                       json={"context": {"external_id": "user-43", "external_name": "Grace H."}})
    assert renamed.json()["context"]["updated_at"] > first["updated_at"]
    assert renamed.json()["context"]["attributes"] == {"plan": "team"}


def test_a_returning_user_is_only_read(
        api: httpx.Client, platform: PlatformCredentials,
        xkit_environment: XkitEnvironment) -> None:
    """No write for the same values again: on SQLite a write would queue every page load of
    every returning user behind the database's one write lock."""
    sent = {"context": {"external_id": "user-44", "external_name": "Edsger"}}
    assert api.post("/api/platform/contexts", json=sent).status_code == 201

    (again,) = answered_counting(xkit_environment, platform,
                                 [Call("POST", "/api/platform/contexts", sent)])
    assert again.status == 200
    assert again.verbs == ["SELECT", "SELECT"], "the caller's key, then the context"


def test_legacy_users_endpoint_keeps_xkits_shape(api: httpx.Client) -> None:
    response = api.post("/api/platform/users", json={"user": {"external_id": "legacy-1"}})
    assert response.status_code == 201, response.text
    assert response.json()["user"]["external_id"] == "legacy-1"
    assert response.json()["access_token"]
    assert api.get("/api/platform/contexts/legacy-1").status_code == 200


def test_context_tokens_verify_only_with_this_installations_key(
    api: httpx.Client, xkit_environment: XkitEnvironment
) -> None:
    token = api.post("/api/platform/contexts", json={"context": {"external_id": "u"}}).json()[
        "access_token"
    ]

    async def _verify(runtime):  # type: ignore[no-untyped-def]
        return runtime.context_tokens.verify(token)

    claims = xkit_environment.with_runtime(_verify)
    assert claims.context_id
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")

    async def _verify_tampered(runtime):  # type: ignore[no-untyped-def]
        from xkit.errors import Unauthorized

        with pytest.raises(Unauthorized):
            runtime.context_tokens.verify(tampered)

    xkit_environment.with_runtime(_verify_tampered)


def test_get_and_delete_context(api: httpx.Client) -> None:
    api.post("/api/platform/contexts", json={"context": {"external_id": "gone"}}).raise_for_status()
    assert api.get("/api/platform/contexts/gone").json()["external_id"] == "gone"
    assert api.delete("/api/platform/contexts/gone").status_code == 204
    missing = api.get("/api/platform/contexts/gone")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "context_not_found"
    assert api.delete("/api/platform/contexts/gone").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"external_id": "not-wrapped"},
        {"context": {}},
        {"context": {"external_id": ""}},
        {"context": {"external_id": 42}},
        {"context": {"external_id": "x" * 300}},
        {"context": "user-1"},
    ],
)
def test_bad_context_input_is_refused(api: httpx.Client, body: object) -> None:
    response = api.post("/api/platform/contexts", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"


def test_parallel_first_requests_for_a_new_user_all_get_the_one_context(
    platform: PlatformCredentials, xkit_server: XkitServer
) -> None:
    """A backend asks for a token on every page view; a new user's first views race."""
    start = threading.Barrier(6)

    def upsert(_: int) -> httpx.Response:
        with platform.client(xkit_server) as client:
            start.wait()
            return client.post("/api/platform/contexts",
                               json={"context": {"external_id": "new-user", "plan": "pro"}})

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(upsert, range(6)))
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201], [
        r.text for r in responses
    ]
    assert len({r.json()["context"]["id"] for r in responses}) == 1
    assert all(r.json()["access_token"] for r in responses)


@pytest.mark.parametrize(
    ("external_id", "says"),
    [
        ("team/42", "must not contain '/'"),
        ("..", "must not contain '/' or be '.' or '..'"),
        ("user\u00001", "must not contain control characters"),
        ("user\n1", "must not contain control characters"),
    ],
)
def test_external_ids_that_could_not_be_fetched_back_are_refused(
    api: httpx.Client, external_id: str, says: str
) -> None:
    response = api.post("/api/platform/contexts", json={"context": {"external_id": external_id}})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and error["details"] == {"field": "external_id"}
    assert error["message"].startswith("external_id ") and says in error["message"]


def test_every_accepted_external_id_can_be_fetched_back(api: httpx.Client) -> None:
    for external_id in ("ada@example.test", "team 42", "a%2Fb", "ünïcødé", "x?y#z"):
        created = api.post("/api/platform/contexts", json={"context": {"external_id": external_id}})
        assert created.status_code == 201, (external_id, created.text)
        fetched = api.get(f"/api/platform/contexts/{quote(external_id, safe='')}")
        assert fetched.status_code == 200, (external_id, fetched.text)
        assert fetched.json()["external_id"] == external_id


def test_nul_characters_are_refused_as_input_not_reported_as_an_outage(api: httpx.Client) -> None:
    named = api.post("/api/platform/contexts",
                     json={"context": {"external_id": "ok", "external_name": "Ada\u0000"}})
    assert named.status_code == 422
    assert named.json()["error"]["details"] == {"field": "external_name"}
    assert api.get("/api/platform/contexts/ok").status_code == 404  # nothing was created
    # A lookup by a value no context can have: PostgreSQL cannot even compare it.
    lookup = api.get("/api/platform/contexts/u%00x")
    expected = (400, "invalid_input") if backend() == "postgresql" else (404, "context_not_found")
    assert (lookup.status_code, lookup.json()["error"]["code"]) == expected
