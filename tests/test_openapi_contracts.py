"""``/openapi.json`` describes every answer of the Platform API and the browser API: a
developer (or a generated client) can read the token answer's fields from the document.

Each 2xx answer has a schema (a 204 has no body to describe); the proxy passes the
provider's answer through and says so. What the schemas claim is checked against real
answers elsewhere: test_schemathesis.py for the Platform API, and FastAPI validating each
browser-API answer against its model in every xkit.js and connect-flow test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.xkit import XkitServer
from xkit.api.browser_schemas import CatalogConnector
from xkit.api.connection_schemas import PublicAuthorization, PublicConnection, TokenAuthorization
from xkit.api.schemas import DeliveryOut

DOCS = Path(__file__).parent.parent / "docs"

pytestmark = pytest.mark.database_independent

PREFIXES = ("/api/platform/", "/p/{platform_slug}/api/platform_user/")
VERBS = {"get", "post", "put", "patch", "delete", "head"}


def _document(server: XkitServer) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/openapi.json")
    assert response.status_code == 200
    return response.json()


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def test_every_success_answer_has_a_schema(xkit_server: XkitServer) -> None:
    document = _document(xkit_server)
    checked, missing = 0, []
    for path, operations in document["paths"].items():
        if not path.startswith(PREFIXES):
            continue
        for verb, operation in operations.items():
            if verb not in VERBS:
                continue
            successes = {code: answer for code, answer in operation["responses"].items()
                         if code.startswith("2")}
            assert successes, f"{verb.upper()} {path} documents no success"
            for code, answer in successes.items():
                checked += 1
                content = answer.get("content")
                if code == "204" and not content:
                    continue
                schemas = [media.get("schema") for media in (content or {}).values()]
                if not schemas or not all(schemas):
                    missing.append(f"{verb.upper()} {path} {code}")
    assert not missing, f"2xx answers without a schema: {missing}"
    assert checked > 40


def test_the_token_answer_is_described_field_by_field(xkit_server: XkitServer) -> None:
    document = _document(xkit_server)
    for path in ("/api/platform/contexts/{external_id}/connections/{connector_slug}",
                 "/api/platform/connections/{connection_id}"):
        answer = document["paths"][path]["get"]["responses"]["200"]
        schema = _resolve(document, answer["content"]["application/json"]["schema"])
        assert {"connection", "connector", "context", "authorization"} <= set(
            schema["properties"]), path
        authorization = _resolve(document, schema["properties"]["authorization"])
        assert {"access_token", "token_type", "expires_at", "granted_scopes",
                "provider_account_id", "display_label", "extras"} <= set(
            authorization["properties"]), path
        assert authorization["properties"]["expires_at"]["anyOf"][0]["format"] == "date-time"
        connection = _resolve(document, schema["properties"]["connection"])
        assert {"id", "status", "enabled", "authorization", "created_at"} <= set(
            connection["properties"])


def test_the_browser_api_answers_are_described(xkit_server: XkitServer) -> None:
    document = _document(xkit_server)
    base = "/p/{platform_slug}/api/platform_user"
    listed = document["paths"][f"{base}/connectors"]["get"]["responses"]["200"]
    connectors = _resolve(document, listed["content"]["application/json"]["schema"])
    item = _resolve(document, connectors["properties"]["connectors"]["items"])
    assert {"slug", "name", "mark", "auth_type", "collect"} <= set(item["properties"])
    flow = document["paths"][f"{base}/authorizations/{{authorization_id}}"]["get"]
    status = _resolve(document, flow["responses"]["200"]["content"]["application/json"][
        "schema"])["properties"]["status"]
    assert set(status["enum"]) == {"awaiting_callback", "retrieving_tokens", "active", "error"}


def _table_fields(document: str, after: str) -> list[str]:
    """The first column of the first Markdown table after the line containing ``after``."""
    lines = document[document.index(after):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("| field"))
    fields = []
    for line in lines[start + 2:]:
        if not line.lstrip().startswith("|"):
            break
        fields.append(line.split("|")[1].strip().strip("`"))
    return fields


def test_the_docs_list_the_token_answer_fields_the_model_has() -> None:
    guide = (DOCS / "platform-api.md").read_text()
    assert _table_fields(guide, "describes it as `ConnectionWithToken`") == list(
        TokenAuthorization.model_fields)


def test_the_browser_api_docs_name_every_field_of_a_connection() -> None:
    guide = (DOCS / "browser-api.md").read_text()
    for model in (PublicConnection, PublicAuthorization, CatalogConnector):
        row = next(line for line in guide.splitlines() if f"| `{model.__name__}` |" in line)
        assert all(f"`{name}`" in row for name in model.model_fields), model.__name__


def test_the_webhook_docs_list_the_delivery_record_fields_the_model_has() -> None:
    guide = (DOCS / "webhooks.md").read_text()
    assert _table_fields(guide, "Each delivery in the log") == list(DeliveryOut.model_fields)
