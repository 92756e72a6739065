"""`xkit demo` as a developer tries it: where it listens, the key it prints, webhooks to a
receiver on this machine, and the sandbox's switches for trying error handling — each against
a real demo process on free ports."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.demo import Demo, connect_sandbox, free_port_pair, start_demo
from tests.support.processes import free_port
from tests.support.webhooks import WebhookReceiver

pytestmark = pytest.mark.database_independent  # the demo always runs on its own SQLite


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    port, app_port = free_port(), free_port()
    started = start_demo(tmp_path_factory.mktemp("demo"), "--port", str(port),
                         "--app-port", str(app_port), xkit_port=port, app_port=app_port)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def api(demo: Demo) -> Iterator[httpx.Client]:
    with demo.api() as client:
        yield client


def switches(api: httpx.Client, connection_id: str, **flip: Any) -> httpx.Response:
    """What a backend does to flip a sandbox switch: POST through xkit's proxy."""
    return api.post(f"/api/platform/proxy/{connection_id}/switches", json=flip)


def notes(api: httpx.Client, connection_id: str) -> httpx.Response:
    return api.get(f"/api/platform/proxy/{connection_id}/notes")


def status_of(api: httpx.Client, external_id: str) -> str:
    """The status the developer's backend sees in the context's connection list."""
    listed = api.get(f"/api/platform/contexts/{external_id}/connections")
    assert listed.status_code == 200, listed.text
    return str(listed.json()["connections"][0]["connection"]["status"])


def test_xkit_host_and_port_choose_where_the_demo_listens(tmp_path: Path) -> None:
    port = free_port_pair()
    demo = start_demo(tmp_path, env={"XKIT_HOST": "127.0.0.1", "XKIT_PORT": str(port)},
                      xkit_port=port, app_port=port + 1)
    try:
        output = demo.output()
        assert f"xkit:       http://127.0.0.1:{port}  (dashboard http://127.0.0.1:{port}/admin)" \
            in output
        assert f"Open the sample app: http://127.0.0.1:{port + 1}" in output
        assert f"http://127.0.0.1:{port}/admin/setup?token=" in output
        assert demo.printed["XKIT_URL"] == f"http://127.0.0.1:{port}"
        page = httpx.get(demo.app).text
        assert f"http://127.0.0.1:{port}/p/demo/xkit.js" in page
    finally:
        demo.stop()


def test_flags_win_over_the_environment(tmp_path: Path) -> None:
    port, app_port = free_port(), free_port()
    demo = start_demo(tmp_path, "--host", "127.0.0.1", "--port", str(port),
                      "--app-port", str(app_port), env={"XKIT_PORT": "1"},
                      xkit_port=port, app_port=app_port)
    try:
        assert f"Open the sample app: http://127.0.0.1:{app_port}" in demo.output()
        assert httpx.get(f"{demo.xkit}/sandbox/api/me").status_code == 401  # the sandbox is on
    finally:
        demo.stop()


def test_the_printed_key_pair_works_on_the_platform_api(demo: Demo, api: httpx.Client) -> None:
    output = demo.output()
    assert "a demo key" in output
    assert demo.printed["XKIT_PUBLISHABLE"].startswith("xkit_pk_")
    assert demo.printed["XKIT_SECRET"].startswith("xkit_sk_")

    context = api.post("/api/platform/contexts", json={"context": {"external_id": "key-check"}})
    assert context.status_code in (200, 201), context.text
    connectors = api.get("/api/platform/connectors")
    assert connectors.status_code == 200, connectors.text
    assert [c["slug"] for c in connectors.json()["connectors"]] == ["sandbox"]


def test_webhooks_reach_a_receiver_on_this_machine(demo: Demo, api: httpx.Client) -> None:
    assert "webhook receiver on this machine gets deliveries" in demo.output()
    with WebhookReceiver() as receiver:
        created = api.post("/api/platform/webhooks", json={"url": receiver.url})
        assert created.status_code in (200, 201), created.text
        connection_id = connect_sandbox(demo, api, "hooked-user", "Grace Hopper")

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            kinds = [r.event.get("event_type") for r in receiver.snapshot()]
            if "connection.enabled" in kinds:
                break
            time.sleep(0.2)
        enabled = [r.event for r in receiver.snapshot() if r.event.get("event_type")
                   == "connection.enabled"]
        assert enabled, [r.body for r in receiver.snapshot()]
        assert connection_id in str(enabled[0])

        # The user revokes the grant at the sandbox: the backend's next call learns it, and
        # so does the webhook receiver.
        switches(api, connection_id, revoke=True)
        assert notes(api, connection_id).status_code == 409
        deadline = time.monotonic() + 20
        while not any(r.event.get("event_type") == "connection.error"
                      for r in receiver.snapshot()):
            assert time.monotonic() < deadline, [r.body for r in receiver.snapshot()]
            time.sleep(0.2)
        api.delete(f"/api/platform/webhooks/{created.json()['id']}")


def test_revoking_the_grant_makes_the_backend_reconnect(demo: Demo, api: httpx.Client) -> None:
    connection_id = connect_sandbox(demo, api, "revoked-user", "Revoked Person")
    assert notes(api, connection_id).status_code == 200

    assert switches(api, connection_id, revoke=True).status_code == 200

    # A token refresh is refused: the next token fetch that refreshes says reconnect.
    fetched = api.get("/api/platform/contexts/revoked-user/connections/sandbox",
                      params={"force_refresh": "true"})
    assert fetched.status_code == 409, fetched.text
    assert fetched.json()["error"]["code"] == "reconnect_required"
    # And so do the proxy and every token fetch from now on, until the user reconnects.
    assert notes(api, connection_id).json()["error"]["code"] == "reconnect_required"
    plain = api.get("/api/platform/contexts/revoked-user/connections/sandbox")
    assert plain.status_code == 409, plain.text

    # Connecting again makes a new grant, which works.
    connect_sandbox(demo, api, "revoked-user", "Revoked Person")
    again = api.get("/api/platform/contexts/revoked-user/connections/sandbox").json()
    assert notes(api, again["connection"]["id"]).status_code == 200


def test_revoked_access_tokens_are_refused_by_the_proxy_too(demo: Demo, api: httpx.Client) -> None:
    """No refresh asked for: the proxy's call is refused (401), xkit renews once, is refused."""
    connection_id = connect_sandbox(demo, api, "revoked-proxy", "Proxy Person")
    switches(api, connection_id, revoke=True)
    refused = notes(api, connection_id)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "reconnect_required"
    assert status_of(api, "revoked-proxy") != "connected"


def test_failing_the_next_calls_with_5xx(demo: Demo, api: httpx.Client) -> None:
    connection_id = connect_sandbox(demo, api, "failing-user", "Failing Person")
    flipped = switches(api, connection_id, fail_next=2, fail_status=503)
    assert flipped.status_code == 200 and flipped.json()["fail_next"] == 2

    assert [notes(api, connection_id).status_code for _ in range(3)] == [503, 503, 200]


def test_the_token_refresh_path_sees_5xx_and_keeps_the_connection(
        demo: Demo, api: httpx.Client) -> None:
    connection_id = connect_sandbox(demo, api, "refresh-5xx", "Refresh Person")
    switches(api, connection_id, fail_next=3, fail_status=500)
    url = "/api/platform/contexts/refresh-5xx/connections/sandbox"

    unavailable = api.get(url, params={"force_refresh": "true"})
    assert unavailable.status_code == 503, unavailable.text
    assert unavailable.json()["error"]["code"] == "provider_unavailable"
    # A provider outage is not the user's doing: the connection stays connected, and the
    # token comes once the sandbox answers again (after xkit's short cooldown).
    assert status_of(api, "refresh-5xx") == "connected"
    deadline = time.monotonic() + 15
    while (answer := api.get(url, params={"force_refresh": "true"})).status_code != 200:
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.5)


def test_429_with_retry_after_is_waited_out_once_then_passed_on(
        demo: Demo, api: httpx.Client) -> None:
    connection_id = connect_sandbox(demo, api, "throttled-user", "Throttled Person")
    switches(api, connection_id, fail_next=3, fail_status=429, retry_after=1)

    started = time.monotonic()
    throttled = notes(api, connection_id)  # 429, xkit waits 1 s and tries once more: 429
    assert throttled.status_code == 429, throttled.text
    assert throttled.headers["retry-after"] == "1"
    assert time.monotonic() - started >= 1.0

    started = time.monotonic()
    waited = notes(api, connection_id)  # 429 once more, then the retry after 1 s passes
    assert waited.status_code == 200, waited.text
    assert time.monotonic() - started >= 1.0


def test_the_token_refresh_path_waits_out_429(demo: Demo, api: httpx.Client) -> None:
    connection_id = connect_sandbox(demo, api, "refresh-429", "Patient Person")
    switches(api, connection_id, fail_next=1, fail_status=429, retry_after=1)
    started = time.monotonic()
    fetched = api.get("/api/platform/contexts/refresh-429/connections/sandbox",
                      params={"force_refresh": "true"})
    assert fetched.status_code == 200, fetched.text
    assert time.monotonic() - started >= 1.0


def test_answering_slowly(demo: Demo, api: httpx.Client) -> None:
    connection_id = connect_sandbox(demo, api, "slow-user", "Slow Person")
    switches(api, connection_id, delay_ms=1500)
    started = time.monotonic()
    assert notes(api, connection_id).status_code == 200
    assert time.monotonic() - started >= 1.5

    assert switches(api, connection_id, reset=True).json()["delay_ms"] == 0
    started = time.monotonic()
    assert notes(api, connection_id).status_code == 200
    assert time.monotonic() - started < 1.5


def test_switches_belong_to_one_sandbox_account(demo: Demo, api: httpx.Client) -> None:
    mine = connect_sandbox(demo, api, "switch-owner", "Owner Person")
    theirs = connect_sandbox(demo, api, "switch-bystander", "Bystander Person")
    switches(api, mine, fail_next=5, fail_status=502)
    assert notes(api, theirs).status_code == 200
    assert notes(api, mine).status_code == 502
    assert api.get(f"/api/platform/proxy/{mine}/switches").json()["fail_next"] == 4


@pytest.fixture(scope="module")
def careless(demo: Demo, api: httpx.Client) -> str:
    return connect_sandbox(demo, api, "bad-switches", "Careless Person")


@pytest.mark.parametrize("body", [
    {"fail_next": -1}, {"fail_next": 1000}, {"fail_next": 1, "fail_status": 404},
    {"fail_next": "3"}, {"delay_ms": 10**9}, {"revoke": False}, {"explode": True},
    {"retry_after": 5}, [], "revoke",
])
def test_bad_switches_get_a_clear_400(api: httpx.Client, careless: str, body: object) -> None:
    connection_id = careless
    answer = api.post(f"/api/platform/proxy/{connection_id}/switches", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] and answer.json()["error_description"]


def test_switches_need_the_accounts_token(demo: Demo) -> None:
    assert httpx.post(f"{demo.xkit}/sandbox/api/switches", json={"revoke": True}).status_code \
        == 401
    bogus = httpx.post(f"{demo.xkit}/sandbox/api/switches", json={"revoke": True},
                       headers={"Authorization": "Bearer not-a-token"})
    assert bogus.status_code == 401
