"""Provider templates: every shipped template loads, and broken ones are refused by name."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.provider_cases import CASES_BY_SLUG
from tests.support.templates import with_change
from xkit.providers.registry import (
    BUILTIN_TEMPLATES_DIR,
    ProviderRegistry,
    TemplateError,
    load_template_file,
)
from xkit.providers.schema import MissingValue, ProviderTemplate

pytestmark = pytest.mark.database_independent

OUTLOOK_SCOPES = {
    "offline_access", "openid", "email", "profile", "User.Read",
    "Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite", "Mail.Send",
    "Mail.ReadBasic.Shared", "Mail.Read.Shared", "Mail.ReadWrite.Shared", "Mail.Send.Shared",
    "MailboxSettings.Read", "MailboxSettings.ReadWrite",
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/POP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send",
}
MAIL_PROTOCOLS = ["https://outlook.office.com/IMAP.AccessAsUser.All",
                  "https://outlook.office.com/SMTP.Send"]
CUSTOM_SETTINGS = {"authorize_url": "https://auth.acme.test/authorize",
                   "token_url": "https://auth.acme.test/token"}


@pytest.fixture(scope="module")
def registry() -> ProviderRegistry:
    return ProviderRegistry.load()


@pytest.fixture(scope="module")
def outlook(registry: ProviderRegistry) -> ProviderTemplate:
    return registry.get("outlook-email")


@pytest.fixture(scope="module")
def custom(registry: ProviderRegistry) -> ProviderTemplate:
    return registry.get("oauth2")


def minimal(**changes: Any) -> dict[str, Any]:
    """A small valid template to break on purpose, one field at a time."""
    data: dict[str, Any] = {
        "slug": "acme",
        "name": "Acme",
        "description": "Acme's API.",
        "mark": {"text": "AC", "background": "#112233"},
        "categories": ["crm"],
        "docs_url": "https://docs.acme.test/oauth",
        "auth_type": "oauth2",
        "settings": [{"name": "region", "label": "Region", "type": "choice", "default": "eu",
                      "options": [{"value": "eu", "label": "Europe"},
                                  {"value": "us", "label": "United States"}]}],
        "oauth2": {"authorize_url": "https://{region}.acme.test/oauth/authorize",
                   "token_url": "https://{region}.acme.test/oauth/token"},
        "scopes": [{"name": "read", "description": "Read things", "required": True},
                   {"name": "write", "description": "Write things"}],
        "default_scopes": ["write"],
    }
    data.update(changes)
    return data


def write(directory: Path, data: dict[str, Any], filename: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (filename or f"{data.get('slug', 'nameless')}.yaml")
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# -- the shipped templates ---------------------------------------------------------------------


def test_every_shipped_template_loads_and_matches_its_file_name() -> None:
    paths = sorted(BUILTIN_TEMPLATES_DIR.glob("*.yaml"))
    assert {p.stem for p in paths} >= {
        "outlook-email", "outlook-calendar", "onedrive", "microsoft-teams", "oauth2",
        "outlook-email-admin", "outlook-calendar-admin", "trello", "stripe",
        "google-calendar-service-account"}
    for path in paths:
        assert load_template_file(path).slug == path.stem


def test_registry_lists_templates_by_name_and_looks_them_up(registry: ProviderRegistry) -> None:
    names = [t.name for t in registry.all()]
    assert names == sorted(names, key=str.casefold)
    assert registry.get("outlook-email").name == "Outlook Email"
    assert "oauth2" in registry
    with pytest.raises(KeyError):
        registry.get("no-such-provider")


def test_outlook_requires_offline_access_and_lists_the_mail_scopes(
        outlook: ProviderTemplate) -> None:
    assert outlook.auth_type == "oauth2"
    assert outlook.required_scopes == ["offline_access"]
    assert set(outlook.scope_names) == OUTLOOK_SCOPES
    assert set(outlook.default_scopes) <= set(outlook.scope_names)
    assert "User.Read" in outlook.default_scopes  # the account lookup calls /me
    assert not outlook.custom_scopes
    assert outlook.refresh.idle_lapse_days == 90
    assert outlook.mark.text == "OE"


def test_outlook_urls_render_with_defaults(outlook: ProviderTemplate) -> None:
    endpoints = outlook.oauth2_endpoints({})
    assert endpoints.authorize_url == (
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize")
    assert endpoints.token_url == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    assert endpoints.revoke_url is None
    assert endpoints.token_auth_method == "client_secret_post"
    assert endpoints.pkce is True
    assert endpoints.authorize_params == {"response_mode": "query"}
    assert outlook.account_url({}) == "https://graph.microsoft.com/v1.0/me"
    assert outlook.api_base_url({}) == "https://graph.microsoft.com/v1.0"


def test_outlook_urls_follow_tenant_and_hosts_including_a_local_emulator(
        outlook: ProviderTemplate) -> None:
    settings = outlook.resolve_settings({"tenant": "organizations", "login_host": "127.0.0.1:8443",
                                         "graph_host": "127.0.0.1:8443"})
    assert settings == {"tenant": "organizations", "login_host": "127.0.0.1:8443",
                        "graph_host": "127.0.0.1:8443"}
    endpoints = outlook.oauth2_endpoints(settings)
    assert endpoints.authorize_url == "https://127.0.0.1:8443/organizations/oauth2/v2.0/authorize"
    assert endpoints.token_url == "https://127.0.0.1:8443/organizations/oauth2/v2.0/token"
    assert outlook.account_url(settings) == "https://127.0.0.1:8443/v1.0/me"
    us_government = {"login_host": "login.microsoftonline.us", "tenant": "contoso.onmicrosoft.com"}
    assert outlook.oauth2_endpoints(us_government).token_url == (
        "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token")


def test_outlook_tenant_accepts_a_guid_or_a_domain(outlook: ProviderTemplate) -> None:
    guid = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    assert outlook.resolve_settings({"tenant": guid})["tenant"] == guid
    assert outlook.resolve_settings({"tenant": "contoso.com"})["tenant"] == "contoso.com"


@pytest.mark.parametrize(("values", "named"), [
    ({"login_host": "https://evil.example/x"}, "login_host"),
    ({"login_host": "evil.example/path"}, "login_host"),
    ({"login_host": "user@evil.example"}, "login_host"),
    ({"login_host": "evil.example:99999"}, "login_host"),
    ({"graph_host": "graph.microsoft.com "}, "graph_host"),
    ({"graph_host": "graph.microsoft.com\n"}, "graph_host"),
    ({"tenant": "common/../x"}, "tenant"),
    ({"tenant": "not a tenant"}, "tenant"),
    ({"no_such_setting": "1"}, "no_such_setting"),
])
def test_outlook_refuses_bad_settings_naming_the_setting(
        outlook: ProviderTemplate, values: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        outlook.resolve_settings(values)


def test_render_checks_values_again_and_encodes_plain_strings(outlook: ProviderTemplate) -> None:
    with pytest.raises(ValueError, match="login_host"):
        outlook.render("https://{login_host}/x", {"login_host": "evil.example/x?"})
    template = ProviderTemplate.model_validate(minimal(
        settings=[{"name": "team", "label": "Team", "required": True}],
        oauth2={"authorize_url": "https://acme.test/{team}/authorize",
                "token_url": "https://acme.test/token"}))
    assert template.render("https://acme.test/{team}/a", {"team": "a/b?c"}) == \
        "https://acme.test/a%2Fb%3Fc/a"
    with pytest.raises(MissingValue):
        template.render("https://acme.test/{team}/a", {})


def test_custom_oauth2_takes_endpoints_and_client_auth_from_settings(
        custom: ProviderTemplate) -> None:
    assert custom.custom_scopes
    settings = custom.resolve_settings(CUSTOM_SETTINGS)
    assert settings["token_auth_method"] == "client_secret_basic"
    endpoints = custom.oauth2_endpoints(settings)
    assert endpoints.authorize_url == "https://auth.acme.test/authorize"
    assert endpoints.token_url == "https://auth.acme.test/token"
    assert endpoints.revoke_url is None
    post = custom.oauth2_endpoints({**settings, "token_auth_method": "client_secret_post"})
    assert post.token_auth_method == "client_secret_post"
    assert custom.account_url(settings) is None
    assert custom.api_base_url(settings) is None
    assert custom.account_url({**settings, "userinfo_url": "https://auth.acme.test/me"}) == \
        "https://auth.acme.test/me"


@pytest.mark.parametrize(("values", "named"), [
    ({"authorize_url": "https://a.test/a"}, "token_url"),  # required and missing
    ({**CUSTOM_SETTINGS, "token_url": "http://auth.acme.test/token"}, "token_url"),
    ({**CUSTOM_SETTINGS, "revoke_url": "https://user:pw@auth.acme.test/revoke"}, "revoke_url"),
    ({**CUSTOM_SETTINGS, "token_auth_method": "private_key_jwt"}, "token_auth_method"),
])
def test_custom_oauth2_refuses_bad_settings(
        custom: ProviderTemplate, values: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        custom.resolve_settings(values)


# -- scopes ------------------------------------------------------------------------------------


def test_effective_scopes_put_required_first_and_drop_repeats(outlook: ProviderTemplate) -> None:
    chosen = ["Mail.Read", "offline_access", "Mail.Send", "Mail.Read"]
    assert outlook.effective_scopes(chosen) == ["offline_access", "Mail.Read", "Mail.Send"]
    assert outlook.effective_scopes([]) == ["offline_access"]
    assert outlook.scope_param(["Mail.Read"]) == "offline_access Mail.Read"


@pytest.mark.parametrize("chosen", [["Mail.Read", "Not.AScope"], ["mail.read"], "Mail.Read"])
def test_unknown_scopes_are_refused(outlook: ProviderTemplate, chosen: Any) -> None:
    with pytest.raises(ValueError):
        outlook.effective_scopes(chosen)


def test_outlook_mail_protocol_scopes_are_for_exchange_and_never_mixed_with_graph(
        outlook: ProviderTemplate) -> None:
    """IMAP/POP/SMTP tokens are Exchange Online's; Graph ones cannot log in to IMAP, and one
    token request cannot ask for both."""
    protocols = outlook.effective_scopes([*MAIL_PROTOCOLS, "openid", "profile", "email"])
    assert protocols[:3] == ["offline_access", *MAIL_PROTOCOLS]
    assert outlook.scope_resource(protocols) == "https://outlook.office.com"
    assert outlook.scope_resource(["Mail.Read"]) == "https://graph.microsoft.com"
    with pytest.raises(ValueError) as mixed:
        outlook.effective_scopes(["Mail.Read", "https://outlook.office.com/SMTP.Send"])
    assert "'https://outlook.office.com/SMTP.Send' (for https://outlook.office.com) cannot " \
           "be combined with 'Mail.Read' (for https://graph.microsoft.com)" in str(mixed.value)
    # Such a connector's token cannot call Graph's /me: the account comes from the id_token.
    assert outlook.account_url({}, protocols) is None
    assert outlook.account_url({}, ["Mail.Read"]) == "https://graph.microsoft.com/v1.0/me"
    descriptions = {s.name: s.description for s in outlook.scopes}
    assert all("Exchange Online" in descriptions[name] for name in MAIL_PROTOCOLS)


def test_custom_template_accepts_any_well_formed_scope(custom: ProviderTemplate) -> None:
    assert custom.effective_scopes(["crm.read", "https://api.acme.test/write"]) == [
        "crm.read", "https://api.acme.test/write"]
    for bad in (["two words"], ["crm.read\n"], ['say"hi']):
        with pytest.raises(ValueError):
            custom.effective_scopes(bad)


# -- account and errors ------------------------------------------------------------------------


def test_account_id_and_label_come_from_the_first_non_empty_path(
        outlook: ProviderTemplate, custom: ProviderTemplate) -> None:
    assert outlook.account is not None and custom.account is not None
    me = {"id": "48d31887", "mail": None, "userPrincipalName": "megan@contoso.com"}
    account = outlook.account.extract(me)
    assert (account.id, account.label) == ("48d31887", "megan@contoso.com")
    claims = {"sub": "u-1", "email": "", "name": "Megan"}
    account = custom.account.extract(claims)
    assert (account.id, account.label) == ("u-1", "Megan")
    assert custom.account.source == ["url", "id_token"]


def test_error_messages_prefer_the_specific_microsoft_code(outlook: ProviderTemplate) -> None:
    assert outlook.error_message("access_denied")
    assert outlook.error_message("no_such_code") is None
    code, message = outlook.describe_error(
        "invalid_grant", "AADSTS700082: The refresh token has expired due to inactivity.")
    assert code == "AADSTS700082" and message and "reconnect" in message.lower()
    code, message = outlook.describe_error("invalid_grant", "AADSTS1: something new")
    assert code == "AADSTS1" and message == outlook.error_message("invalid_grant")
    for code in ("AADSTS50011", "AADSTS50194", "AADSTS54005", "AADSTS65001", "AADSTS65004",
                 "AADSTS70000", "AADSTS70008", "AADSTS90094", "AADSTS53003", "AADSTS50173",
                 "AADSTS50076", "AADSTS50079", "AADSTS7000215", "AADSTS7000222",
                 "AADSTS700016", "invalid_client", "invalid_scope", "server_error",
                 "temporarily_unavailable"):
        assert outlook.error_message(code), code


def test_setup_guide_gets_the_real_callback_url(outlook: ProviderTemplate) -> None:
    guide = outlook.render_setup_guide("https://xkit.acme.test/p/acme/callback")
    assert "`https://xkit.acme.test/p/acme/callback`" in guide
    assert "{callback_url}" not in guide


# -- broken templates --------------------------------------------------------------------------


def _without(key: str) -> dict[str, Any]:
    data = minimal()
    del data[key]
    return data


def _deep(change: str, value: Any) -> dict[str, Any]:
    """``minimal()`` with one nested value replaced, e.g. ``oauth2.token_url``."""
    return with_change(minimal(), change, value)


@pytest.mark.parametrize(("data", "field", "says"), [
    (_without("name"), "name", "required"),
    (_without("oauth2"), "oauth2", "required"),
    (_deep("oauth2.token_url", "https://{regionn}.acme.test/token"), "oauth2.token_url",
     "unknown placeholder {regionn}"),
    (_deep("oauth2.authorize_url", "https://{region.acme.test/a"), "oauth2.authorize_url", "'{'"),
    (_deep("oauth2.tokn_url", "https://acme.test/t"), "oauth2.tokn_url", "not a known key"),
    (minimal(colour="red"), "colour", "not a known key"),
    (minimal(default_scopes=["admin"]), "default_scopes.0", "'admin' is not in scopes"),
    (minimal(default_scopes=["read"]), "default_scopes.0", "required"),
    (minimal(scopes=[{"name": "read", "description": "Read", "resource": "https://a.test"},
                     {"name": "write", "description": "Write", "resource": "https://b.test"}],
             default_scopes=["read", "write"]), "default_scopes", "cannot be combined"),
    (minimal(account={"url": "https://eu.acme.test/me", "id": "id",
                      "resource": "https://c.test"}), "account.resource", "no scope is for"),
    (minimal(scopes=[{"name": "read", "description": "Read"}, {"name": "read",
                                                               "description": "Again"}]),
     "scopes.1.name", "listed twice"),
    (minimal(scopes=[{"name": "read", "description": "Read"}, {"name": "a b",
                                                               "description": "Spaced"}]),
     "scopes.1.name", ""),
    (_deep("settings.0.default", "asia"), "settings.0.default", "'asia' is not one of"),
    (_deep("settings.0.type", "hostname"), "settings.0.type", "'host'"),
    (_deep("oauth2.token_url", "http://acme.test/token"), "oauth2.token_url", "https://"),
    (_deep("oauth2.authorize_params", {"state": "fixed"}), "oauth2.authorize_params.state",
     "set by xkit"),
    (_deep("oauth2.token_auth_method", "{region}"), "oauth2.token_auth_method", "not one of"),
    (_deep("oauth2.token_auth_method", "private_key_jwt"), "oauth2.token_auth_method", ""),
    (minimal(auth_type="api_key"), "api_key", "required"),
    (minimal(auth_type="telepathy"), "auth_type", ""),
    (minimal(slug="Acme!"), "slug", ""),
    (minimal(setup_guide="Paste {callbak_url} there."), "setup_guide", "{callbak_url}"),
    (_deep("mark.background", "blue"), "mark.background", ""),
    (minimal(docs_url="http://docs.acme.test"), "docs_url", "https://"),
])
def test_a_broken_template_is_refused_naming_file_and_field(
        tmp_path: Path, data: dict[str, Any], field: str, says: str) -> None:
    path = write(tmp_path, data, "acme.yaml")
    with pytest.raises(TemplateError) as caught:
        load_template_file(path)
    message = str(caught.value)
    assert message.startswith("acme.yaml: "), message
    assert f" {field}: " in message, message
    assert says in message, message


def test_the_slug_must_match_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, minimal(), "acme-crm.yaml")
    with pytest.raises(TemplateError, match=r"^acme-crm\.yaml: slug: 'acme' must match"):
        load_template_file(path)


def test_a_key_written_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    text = yaml.safe_dump(minimal(), sort_keys=False) + "name: Acme Again\n"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match=r"acme\.yaml: .*'name' appears twice"):
        load_template_file(path)


@pytest.mark.parametrize(("text", "says"), [
    ("", "is empty"), ("- just\n- a list\n", "must be a mapping"), ("slug: [\n", "not valid YAML")])
def test_files_that_are_not_templates_are_refused(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match=says):
        load_template_file(path)


def test_operator_templates_load_beside_the_builtin_ones(tmp_path: Path) -> None:
    write(tmp_path / "ops", minimal())
    registry = ProviderRegistry.load([tmp_path / "ops"])
    assert registry.get("acme").name == "Acme"
    assert "outlook-email" in registry


def test_duplicate_slugs_across_directories_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "one", minimal())
    write(tmp_path / "two", minimal(name="Acme Two"))
    with pytest.raises(TemplateError, match="slug 'acme' is already used by .*one"):
        ProviderRegistry.load([tmp_path / "one", tmp_path / "two"])


def test_an_operator_cannot_shadow_a_builtin_template(tmp_path: Path) -> None:
    (tmp_path / "ops").mkdir()
    shutil.copy(BUILTIN_TEMPLATES_DIR / "outlook-email.yaml", tmp_path / "ops")
    with pytest.raises(TemplateError, match="slug 'outlook-email' is already used"):
        ProviderRegistry.load([tmp_path / "ops"])


def test_a_missing_operator_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no such directory"):
        ProviderRegistry.load([tmp_path / "nowhere"])


# -- every template, whatever its auth type --------------------------------------------------


# What templates without a provider case (those that never redirect) cannot do without:
# (settings, collect answers).
WITHOUT_CASE: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "oauth2-client-credentials": ({"token_url": "https://auth.acme.test/oauth/token"}, {}),
    "zoom-server-to-server": ({"account_id": "Wk9PTV9BQ0NPVU5UX0lE"}, {}),
    "box-client-credentials": ({}, {"enterprise_id": "575619"}),
}


@pytest.mark.parametrize("template", ProviderRegistry.load().all(), ids=lambda t: t.slug)
def test_every_template_renders_its_urls_and_guide_with_default_settings(
        template: ProviderTemplate) -> None:
    """With its defaults — and, where its provider case gives them, the settings and answers
    the template cannot do without (the custom template's endpoints, a collected host)."""
    case = CASES_BY_SLUG.get(template.slug)
    given, answers = WITHOUT_CASE.get(template.slug, ({}, {}))
    settings = {**template.resolve_settings(case.settings if case else given),
                **(template.resolve_collected(case.collect if case else answers)
                   if case or answers else {})}
    if template.oauth2:
        endpoints = template.oauth2_endpoints(settings)
        assert endpoints.authorize_url.startswith("https://")
        assert endpoints.token_url.startswith("https://")
    if template.admin_consent:
        tenant = {**settings, template.admin_consent.tenant_setting: "contoso.com"}
        assert "/contoso.com/" in template.render(template.admin_consent.url, tenant)
        assert template.render_text(template.admin_consent.scope, tenant).endswith("/.default")
    if template.jwt_bearer:
        assert template.render(template.jwt_bearer.token_url, settings).startswith("https://")
    if template.client_credentials:
        endpoints = template.client_credentials_endpoints(settings)
        assert endpoints.token_url.startswith("https://") and not endpoints.authorize_url
    for url in (template.api_base_url(settings), template.account_url(settings)):
        assert url is None or url.startswith("https://")
    assert all(scope.description for scope in template.scopes)
    guide = template.render_setup_guide("https://xkit.acme.test/p/acme/callback", settings)
    if template.oauth2:
        assert "https://xkit.acme.test/p/acme/callback" in guide
    assert "{callback_url}" not in guide


def _of_type(auth_type: str, **blocks: Any) -> dict[str, Any]:
    """A small valid template of another auth type, to break one field at a time."""
    data = minimal(auth_type=auth_type, oauth2=None, **blocks)
    return {k: v for k, v in data.items() if v is not None}


_CONSENT = {"url": "https://login.acme.test/{region}/adminconsent",
            "scope": "https://api.acme.test/.default", "tenant_setting": "region"}
_KEYED = {"collect": [{"name": "api_key", "label": "API key", "type": "secret"}],
          "account": {"url": "https://api.acme.test/me", "id": "id"}}


@pytest.mark.parametrize(("data", "field", "says"), [
    (minimal(auth_type="oauth2_admin_consent",
             admin_consent={**_CONSENT, "sign_in_scopes": ["profile"]}),
     "admin_consent.sign_in_scopes", "openid"),
    (minimal(auth_type="oauth2_admin_consent", admin_consent={**_CONSENT, "tenant_setting": "x"}),
     "admin_consent.tenant_setting", "not a setting"),
    (minimal(auth_type="oauth2_admin_consent",
             admin_consent={**_CONSENT, "params": {"client_id": "x"}}),
     "admin_consent.params.client_id", "set by xkit"),
    (_of_type("api_key", api_key={"name": "Authorization", "value": "Key {api_key}"},
              collect=_KEYED["collect"]),
     "account", "checks the credentials"),
    (_of_type("api_key", api_key={"name": "Bad Header", "value": "{api_key}"}, **_KEYED),
     "api_key.name", "HTTP header name"),
    (_of_type("basic", basic={"username": "{region}"}, account=_KEYED["account"]),
     "collect", "credentials"),
    (_of_type("jwt_bearer", jwt_bearer={"token_url": "https://acme.test/token",
                                        "assertion_lifetime_seconds": 7200}),
     "jwt_bearer.assertion_lifetime_seconds", ""),
    (_of_type("client_credentials"), "client_credentials", "is required"),
    (_of_type("client_credentials", client_credentials={"token_url": "http://acme.test/t"}),
     "client_credentials.token_url", "https://"),
    (_of_type("client_credentials", client_credentials={
        "token_url": "https://acme.test/t", "token_params": {"grant_type": "password"}}),
     "client_credentials.token_params.grant_type", "set by xkit"),
    (_of_type("client_credentials", client_credentials={
        "token_url": "https://{tenant}.acme.test/t"}),
     "client_credentials.token_url", "unknown placeholder {tenant}"),
    (_of_type("client_credentials", client_credentials={
        "token_url": "https://acme.test/t", "token_auth_method": "private_key_jwt"}),
     "client_credentials.token_auth_method", "client_secret_basic"),
    (_of_type("client_credentials", client_credentials={
        "token_url": "https://acme.test/t", "grant_type": "two words"}),
     "client_credentials.grant_type", ""),
    (minimal(client_credentials={"token_url": "https://acme.test/t"}),
     "client_credentials", "does not apply to auth_type oauth2"),
])
def test_auth_type_blocks_are_checked_when_loaded(
        tmp_path: Path, data: dict[str, Any], field: str, says: str) -> None:
    path = write(tmp_path, data, "acme.yaml")
    with pytest.raises(TemplateError) as caught:
        load_template_file(path)
    message = str(caught.value)
    assert f" {field}: " in message and says in message, message


def test_a_client_credentials_template_places_a_collected_value_in_its_token_request(
        tmp_path: Path) -> None:
    data = _of_type("client_credentials", client_credentials={
        "token_url": "https://{subdomain}.acme.test/oauth/token",
        "token_params": {"account": "{account}", "audience": "{audience}"}},
        settings=[{"name": "audience", "label": "Audience"}],
        collect=[{"name": "subdomain", "label": "Subdomain", "pattern": "[a-z0-9-]+"},
                 {"name": "account", "label": "Account"}])
    template = load_template_file(write(tmp_path, data, "acme.yaml"))
    values = template.resolve_collected({"subdomain": "shop", "account": "a/1 b"})
    endpoints = template.client_credentials_endpoints(values)
    assert endpoints.token_url == "https://shop.acme.test/oauth/token"
    assert endpoints.token_params == {"account": "a/1 b"}  # no audience set: left out
    assert endpoints.token_auth_method == "client_secret_basic"
    with pytest.raises(ValueError, match="subdomain"):
        template.client_credentials_endpoints({"subdomain": "evil.test/x", "account": "a"})


def test_an_admin_consent_template_names_the_tenant_in_its_token_url(tmp_path: Path) -> None:
    data = minimal(auth_type="oauth2_admin_consent", admin_consent=_CONSENT)
    data["oauth2"] = {**data["oauth2"], "token_url": "https://acme.test/oauth/token"}
    with pytest.raises(TemplateError, match=r"oauth2\.token_url: must use \{region\}"):
        load_template_file(write(tmp_path, data, "acme.yaml"))
    assert load_template_file(write(tmp_path, minimal(auth_type="oauth2_admin_consent",
                                                      admin_consent=_CONSENT), "acme.yaml"))


# -- API keys ------------------------------------------------------------------------------------


def test_api_key_templates_use_collect_fields_and_never_put_secrets_in_urls() -> None:
    api_key: dict[str, Any] = {"slug": "acme", "name": "Acme", "description": "Acme's API.",
               "mark": {"text": "AC", "background": "#112233"}, "categories": ["crm"],
               "docs_url": "https://docs.acme.test", "auth_type": "api_key",
               "collect": [{"name": "subdomain", "label": "Subdomain", "suffix": ".acme.test",
                            "pattern": "[a-z0-9-]+"},
                           {"name": "api_key", "label": "API key", "type": "secret"}],
               "api_key": {"name": "Authorization", "value": "Bearer {api_key}"},
               "api": {"base_url": "https://{subdomain}.acme.test/api"},
               "account": {"url": "https://{subdomain}.acme.test/api/me", "id": "id"}}
    template = ProviderTemplate.model_validate(api_key)
    values = template.resolve_collected({"subdomain": "shop", "api_key": "k-123"})
    assert template.api_base_url(values) == "https://shop.acme.test/api"
    with pytest.raises(ValueError, match="subdomain") as caught:
        template.resolve_collected({"subdomain": "no/slashes", "api_key": "k-123"})
    assert "k-123" not in str(caught.value)
    leaky = copy.deepcopy(api_key)
    leaky["api"]["base_url"] = "https://acme.test/api?key={api_key}"
    with pytest.raises(ValueError, match="secret"):
        ProviderTemplate.model_validate(leaky)
