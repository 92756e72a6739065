"""Property-based requests from the OpenAPI document (schemathesis), with a valid API key or
context token: no input makes the Platform API or the browser API answer 5xx, and every
answer matches the documented schema.

Bounded so the suite stays fast: a few examples per operation. The proxy is left out (it
forwards to providers; its inputs are tested in test_proxy.py). Hypothesis drives each
operation's strategy directly: schemathesis's pytest plugin fails on pytest 9
('Function' object has no attribute '_nodeid').
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.support.xkit import PlatformCredentials, XkitServer

MAX_EXAMPLES = 8


def test_platform_api_answers_every_input_within_its_schema(
        xkit_server: XkitServer, platform: PlatformCredentials) -> None:
    schema = schemathesis.openapi.from_url(f"{xkit_server.url}/openapi.json").include(
        path_regex=r"^/api/platform(?!/proxy)")
    headers = {"Authorization": f"Bearer {platform.secret_key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 15

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_within_schema(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers=headers,
                                   checks=[not_a_server_error, response_schema_conformance])

        answers_within_schema()


def test_browser_api_answers_every_input_within_its_schema(
        xkit_server: XkitServer, platform: PlatformCredentials) -> None:
    """The same for xkit.js's API, as one context of ``platform`` with a connector in its
    catalog: every answer, connections and authorizations included, is the documented one."""
    with platform.client(xkit_server) as api:
        created = api.post("/api/platform/connectors", json={
            "provider": "github", "client_id": "app-id", "client_secret": "app-secret"})
        assert created.status_code == 201, created.text
        context = api.post("/api/platform/contexts", json={"context": {"external_id": "st-1"}})
        assert context.status_code == 201, context.text
    headers = {"Authorization": f"Bearer {context.json()['access_token']}"}
    schema = schemathesis.openapi.from_url(f"{xkit_server.url}/openapi.json").include(
        path_regex=r"^/p/\{platform_slug\}/api/platform_user")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 13

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_within_schema(case) -> None:  # type: ignore[no-untyped-def]
            case.path_parameters["platform_slug"] = platform.slug
            case.call_and_validate(headers=headers,
                                   checks=[not_a_server_error, response_schema_conformance])

        answers_within_schema()
