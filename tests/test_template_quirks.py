"""Provider quirks written as template data: extra scope parameters, extras learnt while
connecting, lookups, and how the token reaches the API — and the mistakes refused on load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.templates import with_change
from xkit.providers.registry import TemplateError, load_template_file
from xkit.providers.schema import MissingValue, ProviderTemplate

pytestmark = pytest.mark.database_independent


def quirky(**changes: Any) -> dict[str, Any]:
    """A template that uses every quirk once: a second scope parameter, a token extra used
    by a lookup, a callback extra, a lookup's extra feeding the proxy, a secret extra."""
    data: dict[str, Any] = {
        "slug": "acme", "name": "Acme", "description": "Acme's API.",
        "mark": {"text": "AC", "background": "#112233"}, "categories": ["crm"],
        "docs_url": "https://docs.acme.test/oauth",
        "sources": ["https://docs.acme.test/oauth"],
        "auth_type": "oauth2",
        "oauth2": {
            "authorize_url": "https://acme.test/oauth/authorize",
            "token_url": "https://acme.test/oauth/token",
            "scope_separator": ",",
            "token_request_format": "json",
            "scope_params": [{"param": "user_scope", "prefix": "user:",
                              "granted": "authed_user.scope"}],
            "token_response": {"access_token": ["access_token", "authed_user.access_token"]},
        },
        "scopes": [{"name": "chat:write", "description": "Post as the app"},
                   {"name": "user:chat:write", "description": "Post as the user"},
                   {"name": "user:search:read", "description": "Search as the user"}],
        "lookups": [{"name": "sites", "url": "https://{region_host}/sites"}],
        "extras": [
            {"name": "region_host", "source": "token", "path": "region.host", "type": "host",
             "required": True},
            {"name": "realm_id", "source": "callback", "path": "realmId", "pattern": "[0-9]+"},
            {"name": "site_id", "source": "sites", "path": "0.id", "required": True},
            {"name": "user_token", "source": "token", "path": "authed_user.access_token",
             "secret": True},
            {"name": "sites", "source": "sites", "path": "$", "type": "json"},
        ],
        "api": {"base_url": "https://{region_host}/sites/{site_id}",
                "headers": {"Acme-Realm": "{realm_id}"},
                "token_header": "X-Acme-Token", "token_prefix": ""},
        "account": {"source": ["sites", "token_response"], "id": "0.owner"},
    }
    data.update(changes)
    return data


def _broken(change: str, value: Any) -> dict[str, Any]:
    return with_change(quirky(), change, value)


@pytest.fixture(scope="module")
def acme() -> ProviderTemplate:
    return ProviderTemplate.model_validate(quirky())


def test_user_scopes_travel_in_their_own_parameter_without_their_prefix(
        acme: ProviderTemplate) -> None:
    requested = acme.effective_scopes(["chat:write", "user:chat:write", "user:search:read"])
    assert acme.authorize_scopes(requested) == (
        "chat:write", {"user_scope": "chat:write,search:read"})
    assert acme.authorize_scopes(["user:chat:write"]) == ("", {"user_scope": "chat:write"})
    assert acme.scope_param(["chat:write", "user:chat:write"]) == "chat:write"
    endpoints = acme.oauth2_endpoints({})
    assert endpoints.granted_scope_fields == (("scope", ""), ("authed_user.scope", "user:"))
    assert endpoints.access_token_paths == ("access_token", "authed_user.access_token")
    assert endpoints.token_request_format == "json"


def test_extras_fill_the_api_block_once_known(acme: ProviderTemplate) -> None:
    values = {"region_host": "eu.acme.test", "site_id": "s/1", "realm_id": "42"}
    assert acme.api_base_url(values) == "https://eu.acme.test/sites/s%2F1"
    assert acme.api_headers(values) == {"Acme-Realm": "42"}
    assert acme.api_headers({}) == {}  # an unknown extra leaves its header out
    assert acme.token_header("t0k") == {"X-Acme-Token": "t0k"}
    with pytest.raises(MissingValue):
        acme.render("https://{region_host}/x", {})
    with pytest.raises(ValueError, match="region_host"):
        acme.render("https://{region_host}/x", {"region_host": "evil.test/path?"})


def test_extras_are_checked_like_settings_and_secrets_never_quoted(
        acme: ProviderTemplate) -> None:
    by_name = {extra.name: extra for extra in acme.extras}
    assert by_name["region_host"].check("EU.acme.test") == "eu.acme.test"
    with pytest.raises(ValueError, match="expected format"):
        by_name["realm_id"].check("12; drop")
    with pytest.raises(ValueError) as caught:
        by_name["user_token"].check("xoxp-secret\n")
    assert "xoxp" not in str(caught.value)
    assert by_name["sites"].check([{"id": 1}]) == [{"id": 1}]
    assert [extra.name for extra in acme.placeholder_extras] == [
        "region_host", "realm_id", "site_id"]


@pytest.mark.parametrize(("data", "field", "says"), [
    (_broken("oauth2.authorize_url", "https://{region_host}/authorize"),
     "oauth2.authorize_url", "only known after connecting"),
    (_broken("lookups.0.url", "https://acme.test/{site_id}"), "lookups.0.url",
     "which this lookup runs before"),
    (_broken("api.base_url", "https://acme.test/{user_token}"), "api.base_url",
     "secret extra"),
    (_broken("api.base_url", "https://acme.test/{sites}"), "api.base_url", "json extra"),
    (_broken("extras.2.source", "nowhere"), "extras.2.source", "not token, callback"),
    (_broken("lookups.0.name", "token"), "lookups.0.name", "reserved"),
    (_broken("account.source", ["sitez"]), "account.source.0", "lookup's name"),
    (_broken("extras.0.name", "realm_id"), "extras.1.name", "used twice"),
    (_broken("oauth2.scope_params.0.param", "scope"), "oauth2.scope_params.0.param",
     "already sent"),
    (_broken("scopes.1.name", "user:"), "scopes.1.name", "only a prefix"),
    (_broken("extras.4.pattern", ".*"), "extras.4.pattern", "no pattern"),
])
def test_quirk_mistakes_are_refused_naming_the_field(
        tmp_path: Path, data: dict[str, Any], field: str, says: str) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        load_template_file(path)
    message = str(caught.value)
    assert f" {field}: " in message, message
    assert says in message, message
