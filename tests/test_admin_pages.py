"""The dashboard's pages as a developer uses them (without JavaScript): inline errors that keep
what was typed, write-only secrets, safe Markdown, keys, contexts, connections, the audit log."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.emulators.services.fixture import service_account_key_file
from tests.support.browser import Dashboard, create_admin
from tests.support.database import backend
from tests.support.webhooks import WebhookReceiver
from tests.support.xkit import (
    PlatformCredentials,
    XkitEnvironment,
    XkitServer,
    seed_connector_without_template,
)
from xkit.db.models import Authorization, Connection
from xkit.db.types import utcnow
from xkit.runtime import Runtime
from xkit.services.configuration import connectors, contexts, platforms
from xkit.services.tokens import connections
from xkit.webhook_signature import standard_secret

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "Zq8~dashboard-client-secret-value"


def inline_error(page: httpx.Response, field: str) -> str:
    """The message shown next to ``field`` (empty when there is none)."""
    found = re.search(rf'<p class="error" id="error-{re.escape(field)}">([^<]*)</p>', page.text)
    return found.group(1) if found else ""


def field_value(page: httpx.Response, field: str) -> str | None:
    found = re.search(rf'name="{re.escape(field)}" type="[a-z]+" value="([^"]*)"', page.text)
    return found.group(1) if found else None


@pytest.fixture
def dashboard(xkit_environment: XkitEnvironment, xkit_server: XkitServer,
              platform: PlatformCredentials) -> Iterator[Dashboard]:
    """Signed in as an admin of ``platform`` (and only of it)."""
    email = f"dev-{secrets.token_hex(4)}@example.test"
    create_admin(xkit_environment, email, platform_slugs=(platform.slug,))
    with Dashboard(xkit_server) as client:
        client.log_in(email)
        yield client


@pytest.fixture
def owner_dashboard(xkit_environment: XkitEnvironment,
                    xkit_server: XkitServer) -> Iterator[Dashboard]:
    """Signed in as a superuser: only they may create platforms (docs/dashboard.md)."""
    email = f"owner-{secrets.token_hex(4)}@example.test"
    create_admin(xkit_environment, email, superuser=True)
    with Dashboard(xkit_server) as client:
        client.log_in(email)
        yield client


@pytest.fixture
def base(platform: PlatformCredentials) -> str:
    return f"/admin/p/{platform.slug}"


@pytest.fixture
def outlook(dashboard: Dashboard, base: str) -> str:
    """An Outlook Email connector added from the provider list; its page's path."""
    added = dashboard.submit(f"{base}/connectors/new", data={"provider": "outlook-email"})
    assert added.status_code == 303
    return str(added.headers["location"])


# --- connectors -------------------------------------------------------------------------------

def test_empty_or_malformed_client_id_is_refused_next_to_the_field(
        dashboard: Dashboard, outlook: str, api: httpx.Client) -> None:
    empty = dashboard.submit(outlook, data={"client_id": "  ", "client_secret": CLIENT_SECRET})
    assert empty.status_code == 422
    assert "Enter the app's client ID" in inline_error(empty, "client_id").replace("&#39;", "'")
    assert "paste the secret again" in inline_error(empty, "client_secret")
    assert CLIENT_SECRET not in empty.text

    spaced = dashboard.submit(outlook, data={"client_id": "has spaces in it",
                                             "client_secret": CLIENT_SECRET})
    assert spaced.status_code == 422
    assert "without spaces" in inline_error(spaced, "client_id")
    assert field_value(spaced, "client_id") == "has spaces in it"
    assert CLIENT_SECRET not in spaced.text

    no_secret = dashboard.submit(outlook, data={"client_id": CLIENT_ID, "client_secret": ""})
    assert no_secret.status_code == 422
    assert inline_error(no_secret, "client_secret") == "Paste the client secret."
    assert field_value(no_secret, "client_id") == CLIENT_ID

    connector = api.get("/api/platform/connectors/outlook-email").json()
    assert connector["client_id"] is None and connector["client_secret_set"] is False


def test_client_secret_is_write_only(dashboard: Dashboard, outlook: str,
                                     api: httpx.Client) -> None:
    saved = dashboard.submit(outlook, data={"client_id": CLIENT_ID,
                                            "client_secret": CLIENT_SECRET})
    assert saved.status_code == 303
    pages = [dashboard.get(outlook + tab) for tab in ("", "/catalog", "/settings", "/delete")]
    assert all(page.status_code == 200 for page in pages)
    assert all(CLIENT_SECRET not in page.text for page in pages)
    assert "A client secret is set (since" in pages[0].text
    assert 'name="client_secret" type="password" value=""' in pages[0].text

    # Saving the client ID alone keeps the secret; a new secret replaces it.
    first_set = api.get("/api/platform/connectors/outlook-email").json()["client_secret_set_at"]
    assert dashboard.submit(outlook, data={"client_id": CLIENT_ID,
                                           "client_secret": ""}).status_code == 303
    kept = api.get("/api/platform/connectors/outlook-email").json()
    assert kept["client_secret_set"] and kept["client_secret_set_at"] == first_set
    assert dashboard.submit(outlook, data={"client_id": CLIENT_ID,
                                           "client_secret": "a-new-secret"}).status_code == 303
    audit = dashboard.get(outlook.split("/connectors/")[0] + "/audit").text
    assert "Client secret replaced" in audit
    assert CLIENT_SECRET not in audit and "a-new-secret" not in audit


def test_the_setup_guide_shows_this_platforms_callback_url(
        dashboard: Dashboard, outlook: str, platform: PlatformCredentials,
        xkit_server: XkitServer) -> None:
    page = dashboard.get(outlook).text
    callback = f"{xkit_server.url}/p/{platform.slug}/callback"
    assert f'id="callback-url" type="text" value="{callback}"' in page
    assert f"<code>{callback}</code>" in page  # inside the rendered guide
    assert "{callback_url}" not in page


def test_a_service_account_key_is_pasted_checked_and_never_shown_again(
        dashboard: Dashboard, base: str, api: httpx.Client) -> None:
    added = dashboard.submit(f"{base}/connectors/new",
                             data={"provider": "google-calendar-service-account"})
    page_path = str(added.headers["location"])
    assert "JSON key file" in dashboard.get(page_path).text
    refused = dashboard.submit(page_path, data={"service_account_key": '{"type": "user"}'})
    assert refused.status_code == 422
    assert "service account key file" in inline_error(refused, "service_account_key")

    key_file = service_account_key_file()
    saved = dashboard.submit(page_path, data={"service_account_key": json.dumps(key_file)})
    assert saved.status_code == 303
    page = dashboard.get(page_path).text
    assert f"A key for <code>{key_file['client_email']}</code> is set" in page
    assert "PRIVATE KEY" not in page
    connector = api.get("/api/platform/connectors/google-calendar-service-account").json()
    assert connector["ready"] and connector["client_id"] == key_file["client_email"]

    trello = dashboard.submit(f"{base}/connectors/new", data={"provider": "trello"})
    assert "No app credentials needed" in dashboard.get(str(trello.headers["location"])).text


def test_a_client_credentials_connector_asks_for_the_app_credentials_and_no_callback_url(
        dashboard: Dashboard, base: str, api: httpx.Client) -> None:
    preview = dashboard.get(f"{base}/connectors/new/paypal").text
    assert "client ID and secret" in preview and 'id="callback-url"' not in preview
    added = dashboard.submit(f"{base}/connectors/new", data={"provider": "paypal"})
    page_path = str(added.headers["location"])
    page = dashboard.get(page_path).text
    assert "App credentials" in page and 'id="callback-url"' not in page
    assert "Register the callback URL" not in page
    saved = dashboard.submit(page_path, data={"client_id": "AbC-paypal-app",
                                              "client_secret": "paypal-secret"})
    assert saved.status_code == 303, saved.text
    assert api.get("/api/platform/connectors/paypal").json()["ready"] is True


def test_catalog_settings_keep_what_was_typed_and_render_markdown_safely(
        dashboard: Dashboard, outlook: str, api: httpx.Client) -> None:
    hostile = ("**Bold** <script>alert(1)</script> <img src=x onerror=alert(2)> "
               "[click](javascript:alert(3)) [ok](https://example.com/help)")
    preview = dashboard.submit(outlook + "/catalog", data={
        "name": "Mail", "short_description": "Your mail", "description": hostile,
        "logo_url": "", "action": "preview"})
    assert preview.status_code == 200
    rendered = re.search(r'<div class="markdown">(.*?)</div>', preview.text, re.S).group(1)
    assert "<strong>Bold</strong>" in rendered
    assert "<script" not in rendered and "<img" not in rendered
    assert 'href="javascript:' not in rendered
    assert 'href="https://example.com/help" rel="nofollow noopener noreferrer"' in rendered
    assert api.get("/api/platform/connectors/outlook-email").json()["name"] == "Outlook Email"

    no_name = dashboard.submit(outlook + "/catalog", data={
        "name": "", "short_description": "Your mail", "description": "kept", "logo_url": "",
        "action": "save"})
    assert no_name.status_code == 422
    assert inline_error(no_name, "name") == "The catalog needs a name for this connector."
    assert field_value(no_name, "short_description") == "Your mail"
    assert ">kept</textarea>" in no_name.text

    bad_logo = dashboard.submit(outlook + "/catalog", data={
        "name": "Mail", "short_description": "", "description": "", "logo_url": "ftp://x/y.png",
        "action": "save"})
    assert bad_logo.status_code == 422
    assert "http(s) URL" in inline_error(bad_logo, "logo_url")

    saved = dashboard.submit(outlook + "/catalog", data={
        "name": "Mail", "short_description": "Your mail", "description": "**Read** mail",
        "logo_url": "https://cdn.example.com/mail.png", "action": "save"})
    assert saved.status_code == 303
    connector = api.get("/api/platform/connectors/outlook-email").json()
    assert (connector["name"], connector["description"], connector["logo_url"]) == (
        "Mail", "**Read** mail", "https://cdn.example.com/mail.png")


def test_required_scopes_are_always_kept_whatever_is_posted(
        dashboard: Dashboard, outlook: str, api: httpx.Client) -> None:
    page = dashboard.get(outlook + "/settings").text
    offline = re.search(r'<input type="checkbox"[^>]*value="offline_access"[^>]*>', page).group(0)
    assert "checked" in offline and "disabled" in offline
    assert "Always requested." in page

    saved = dashboard.submit(outlook + "/settings", data={
        "scopes": ["Mail.Send", "Not.AScope"], "setting.tenant": "common",
        "setting.login_host": "", "setting.graph_host": ""})
    assert saved.status_code == 303
    connector = api.get("/api/platform/connectors/outlook-email").json()
    assert connector["scopes"] == ["Mail.Send"]
    assert connector["effective_scopes"] == ["offline_access", "Mail.Send"]


def test_scope_search_works_without_javascript_and_keeps_hidden_choices(
        dashboard: Dashboard, outlook: str, api: httpx.Client) -> None:
    found = dashboard.get(outlook + "/settings", params={"q": "mail.send"}).text
    listed = re.findall(r'<input type="checkbox"[^>]*value="([^"]+)"', found)
    assert listed == ["Mail.Send", "Mail.Send.Shared"]
    # Mail.Read and User.Read (the defaults) are not listed, yet stay chosen on save.
    assert re.findall(r'<input type="hidden" name="scopes" value="([^"]+)"', found) == [
        "User.Read", "Mail.Read"]
    saved = dashboard.http.post(outlook + "/settings", params={"q": "mail.send"}, data={
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', found).group(1),
        "scopes": ["User.Read", "Mail.Read", "Mail.Send"], "setting.tenant": "common",
        "setting.login_host": "", "setting.graph_host": ""})
    assert saved.status_code == 303
    assert api.get("/api/platform/connectors/outlook-email").json()["scopes"] == [
        "User.Read", "Mail.Read", "Mail.Send"]


def test_mixing_graph_and_mail_protocol_scopes_is_refused_next_to_the_scopes(
        dashboard: Dashboard, outlook: str, api: httpx.Client) -> None:
    page = dashboard.get(outlook + "/settings").text
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in page
    assert "an Exchange Online permission: not with Graph ones in one connector" in page
    refused = dashboard.submit(outlook + "/settings", data={
        "scopes": ["User.Read", "Mail.Read", "https://outlook.office.com/IMAP.AccessAsUser.All"],
        "setting.tenant": "common", "setting.login_host": "", "setting.graph_host": ""})
    assert refused.status_code == 422
    message = inline_error(refused, "scopes").replace("&#39;", "'")
    assert "cannot be combined with 'User.Read'" in message
    assert "make a second connector" in message
    assert api.get("/api/platform/connectors/outlook-email").json()["scopes"] == [
        "User.Read", "Mail.Read"]


def test_a_bad_provider_setting_is_shown_next_to_it(
        dashboard: Dashboard, outlook: str, api: httpx.Client) -> None:
    refused = dashboard.submit(outlook + "/settings", data={
        "scopes": ["Mail.Read", "Mail.Send"], "setting.tenant": "not a tenant!",
        "setting.login_host": "login.microsoftonline.us", "setting.graph_host": ""})
    assert refused.status_code == 422
    assert "is not in the expected format" in inline_error(refused, "setting-tenant")
    assert 'value="not a tenant!"' in refused.text
    assert 'value="login.microsoftonline.us"' in refused.text
    assert re.search(r'value="Mail.Send" checked', refused.text)
    assert api.get("/api/platform/connectors/outlook-email").json()["settings"] == {
        "tenant": "common", "login_host": "login.microsoftonline.com",
        "graph_host": "graph.microsoft.com"}


def test_enable_disable_and_delete_saying_how_many_connections_go(
        dashboard: Dashboard, outlook: str, api: httpx.Client,
        xkit_environment: XkitEnvironment, platform: PlatformCredentials) -> None:
    disabled = dashboard.submit(outlook, outlook + "/enabled", data={"enabled": "false",
                                                                    "back": outlook})
    assert disabled.status_code == 303 and disabled.headers["location"] == outlook
    assert api.get("/api/platform/connectors/outlook-email").json()["enabled"] is False
    assert "Disabled" in dashboard.get(outlook).text
    dashboard.submit(outlook, outlook + "/enabled", data={"enabled": "true",
                                                          "back": "https://evil.example/"})
    assert api.get("/api/platform/connectors/outlook-email").json()["enabled"] is True

    seed_connection(xkit_environment, platform, "user-1")
    seed_connection(xkit_environment, platform, "user-2")
    confirm = dashboard.get(outlook + "/delete")
    assert "<strong>2 connections</strong>" in confirm.text
    assert api.get("/api/platform/connectors/outlook-email").status_code == 200
    deleted = dashboard.submit(outlook + "/delete")
    assert deleted.status_code == 303
    after = dashboard.get(deleted.headers["location"]).text
    assert "Outlook Email deleted, with 2 connections." in after
    assert api.get("/api/platform/connectors/outlook-email").status_code == 404


def test_the_first_secret_of_a_connector_added_from_the_list_is_audited_as_set(
        dashboard: Dashboard, outlook: str, base: str) -> None:
    dashboard.submit(outlook, data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    audit = dashboard.get(f"{base}/audit").text
    assert "Client secret set" in audit and "Client secret replaced" not in audit
    dashboard.submit(outlook, data={"client_id": CLIENT_ID, "client_secret": "a-new-secret"})
    assert "Client secret replaced" in dashboard.get(f"{base}/audit").text


def test_a_connector_whose_template_is_gone_can_still_be_seen_and_deleted(
        dashboard: Dashboard, base: str, xkit_environment: XkitEnvironment,
        platform: PlatformCredentials, api: httpx.Client) -> None:
    connection_id = seed_connector_without_template(xkit_environment, platform)
    listing = dashboard.get(f"{base}/connectors")
    assert listing.status_code == 200 and "Provider missing" in listing.text
    for tab in ("", "/catalog", "/settings"):
        page = dashboard.get(f"{base}/connectors/crm{tab}")
        assert page.status_code == 409, tab
        assert "is not loaded on this server" in page.text.replace("&#39;", "'")
        assert "Delete connector" in page.text
    context_id = api.get("/api/platform/contexts/user-1").json()["id"]
    context_page = dashboard.get(f"{base}/contexts/{context_id}")
    assert context_page.status_code == 200 and "Old CRM" in context_page.text
    mail = api.get(f"/api/platform/connections/{connection_id}/mail/messages")
    assert mail.status_code == 409 and mail.json()["error"]["code"] == "mail_unsupported"
    deleted = dashboard.submit(f"{base}/connectors/crm/delete")
    assert deleted.status_code == 303
    assert "Old CRM deleted, with 1 connection." in dashboard.get(deleted.headers["location"]).text
    assert api.get("/api/platform/connectors/crm").status_code == 404


def test_a_second_connector_of_one_provider_gets_its_own_slug(
        dashboard: Dashboard, outlook: str, base: str) -> None:
    second = dashboard.submit(f"{base}/connectors/new", data={"provider": "outlook-email"})
    assert second.headers["location"] == f"{base}/connectors/outlook-email-2"
    unknown = dashboard.submit(f"{base}/connectors/new", data={"provider": "no-such-thing"})
    assert unknown.status_code == 303 and unknown.headers["location"].endswith("/connectors/new")


def test_provider_search_works_without_javascript(dashboard: Dashboard, base: str) -> None:
    everything = dashboard.get(f"{base}/connectors/new").text
    assert "Outlook Email" in everything and "Custom OAuth 2.0" in everything
    email = dashboard.get(f"{base}/connectors/new", params={"q": "email"}).text
    assert "Outlook Email" in email and "Custom OAuth 2.0" not in email
    nothing = dashboard.get(f"{base}/connectors/new", params={"q": "zzz-nothing"}).text
    assert "No provider matches" in nothing


# --- platforms --------------------------------------------------------------------------------

def test_new_platform_errors_keep_what_was_typed(
        owner_dashboard: Dashboard, platform: PlatformCredentials) -> None:
    dashboard = owner_dashboard
    taken = dashboard.submit("/admin/platforms/new", data={
        "name": "Another", "slug": platform.slug, "allowed_origins": "https://app.test"})
    assert taken.status_code == 422
    assert "already exists" in inline_error(taken, "slug")
    assert field_value(taken, "name") == "Another"
    assert ">https://app.test</textarea>" in taken.text

    bad_origin = dashboard.submit("/admin/platforms/new", data={
        "name": "Another", "slug": "", "allowed_origins": "https://app.test\nhttps://x.test/path"})
    assert bad_origin.status_code == 422
    assert "is not an origin" in inline_error(bad_origin, "allowed_origins")

    nameless = dashboard.submit("/admin/platforms/new", data={"name": "", "slug": "x",
                                                              "allowed_origins": ""})
    assert nameless.status_code == 422 and inline_error(nameless, "name")

    slug = f"beta-{secrets.token_hex(3)}"
    created = dashboard.submit("/admin/platforms/new", data={
        "name": "Beta", "slug": slug, "allowed_origins": "https://beta.test"})
    assert created.headers["location"] == f"/admin/p/{slug}/connectors"
    assert dashboard.get(f"/admin/p/{slug}/connectors").status_code == 200
    assert f"/admin/p/{slug}/connectors" in dashboard.get("/admin/platforms").text


def test_platform_settings_validate_and_save(
        dashboard: Dashboard, base: str, api: httpx.Client,
        other_platform: PlatformCredentials) -> None:
    form = {"name": "Acme Inc", "slug": base.rsplit("/", 1)[1],
            "allowed_origins": "https://app.acme.test\n\nhttps://admin.acme.test",
            "login_redirect_url": "https://app.acme.test/login", "primary_color": "#112233",
            "background_color": "#fafafa", "logo_url": "https://cdn.acme.test/logo.png",
            "powered_by": "on"}
    bad_origin = dashboard.submit(f"{base}/settings", data={
        **form, "allowed_origins": "https://app.acme.test/"})
    assert bad_origin.status_code == 422
    assert "is not an origin" in inline_error(bad_origin, "allowed_origins")
    assert field_value(bad_origin, "name") == "Acme Inc"

    taken = dashboard.submit(f"{base}/settings", data={**form, "slug": other_platform.slug})
    assert taken.status_code == 422 and "already exists" in inline_error(taken, "slug")
    bad_colour = dashboard.submit(f"{base}/settings", data={**form, "primary_color": "blue"})
    assert bad_colour.status_code == 422 and "colour" in inline_error(bad_colour, "primary_color")
    bad_redirect = dashboard.submit(f"{base}/settings", data={**form,
                                                             "login_redirect_url": "nope"})
    assert bad_redirect.status_code == 422 and inline_error(bad_redirect, "login_redirect_url")
    assert api.get("/api/platform").json()["name"] != "Acme Inc"

    saved = dashboard.submit(f"{base}/settings", data=form)
    assert saved.status_code == 303
    stored = api.get("/api/platform").json()
    assert stored["name"] == "Acme Inc"
    assert stored["allowed_origins"] == ["https://app.acme.test", "https://admin.acme.test"]
    assert stored["login_redirect_url"] == "https://app.acme.test/login"
    page = dashboard.get(f"{base}/settings").text
    assert 'value="#112233"' in page and "checked" in page


def test_renaming_the_slug_moves_the_pages(
        dashboard: Dashboard, base: str, platform: PlatformCredentials,
        api: httpx.Client) -> None:
    new_slug = f"renamed-{secrets.token_hex(3)}"
    moved = dashboard.submit(f"{base}/settings", data={
        "name": "Renamed", "slug": new_slug, "allowed_origins": "", "login_redirect_url": "",
        "primary_color": "#2f5bd3", "background_color": "#ffffff", "logo_url": ""})
    assert moved.headers["location"] == f"/admin/p/{new_slug}/settings"
    assert dashboard.get(f"/admin/p/{new_slug}/settings").status_code == 200
    assert dashboard.get(f"{base}/settings").status_code == 404
    assert api.get("/api/platform").json()["slug"] == new_slug


# --- API keys ---------------------------------------------------------------------------------

def test_api_key_secret_is_shown_once_then_only_its_hint(
        dashboard: Dashboard, base: str, xkit_server: XkitServer) -> None:
    created = dashboard.submit(f"{base}/api-keys", data={"label": "ci"})
    assert created.status_code == 200
    assert "shown only this once" in created.text
    secret = re.search(r'id="secret-key" type="text" value="([^"]+)"', created.text).group(1)
    publishable = re.search(r'id="publishable-key" type="text" value="([^"]+)"',
                            created.text).group(1)

    listing = dashboard.get(f"{base}/api-keys").text
    assert secret not in listing and publishable in listing and f"…{secret[-4:]}" in listing
    with httpx.Client(base_url=xkit_server.url, auth=(publishable, secret)) as backend:
        assert backend.get("/api/platform").status_code == 200
        deadline = time.monotonic() + 10  # uses are written a second later, together
        while True:
            listing = dashboard.get(f"{base}/api-keys").text
            row = listing[listing.index(publishable):].split("</tr>")[0]
            if "just now" in row or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert "just now" in row and "Active" in row

        revoke_page = f"{base}/api-keys/{publishable}/revoke"
        assert "Revoke" in dashboard.get(revoke_page).text
        assert backend.get("/api/platform").status_code == 200  # asking revokes nothing
        revoked = dashboard.submit(revoke_page)
        assert revoked.status_code == 303
        assert backend.get("/api/platform").status_code == 401
    assert "Revoked" in dashboard.get(f"{base}/api-keys").text
    assert dashboard.get(f"{base}/api-keys/xkit_pk_unknown/revoke").status_code == 404


# --- contexts and connections -----------------------------------------------------------------

def seed_connection(environment: XkitEnvironment, platform: PlatformCredentials,
                    external_id: str, *, name: str | None = None,
                    status: str = "active") -> dict[str, str]:
    """A context with an Outlook connection, as the connect flow would leave it."""
    async def _work(runtime: Runtime) -> dict[str, str]:
        async with runtime.sessions() as session:
            found = await platforms.get_platform(session, platform.slug)
            context, _ = await contexts.upsert_context(session, found.id, external_id=external_id,
                                                       external_name=name)
            connector = await connectors.get_connector(session, found.id, "outlook-email")
            connection = Connection(platform_id=found.id, context_id=context.id,
                                    connector_id=connector.id)
            session.add(connection)
            await session.flush()
            session.add(Authorization(
                platform_id=found.id, connection_id=connection.id, status=status,
                error_code="AADSTS70008" if status == "error" else None,
                error_message="Your Microsoft sign-in has expired." if status == "error" else None,
                display_label=f"{external_id}@contoso.test", granted_scopes=["offline_access",
                                                                            "Mail.Read"],
                access_token="PLAINTEXT-ACCESS-TOKEN-should-never-show",
                refresh_token="PLAINTEXT-REFRESH-TOKEN-should-never-show",
                expires_at=utcnow() + dt.timedelta(hours=1),
                last_refreshed_at=utcnow() - dt.timedelta(minutes=5)))
            await session.commit()
            return {"context_id": context.id, "connection_id": connection.id}
    return environment.with_runtime(_work)


def connection_count(environment: XkitEnvironment, platform: PlatformCredentials,
                     external_id: str) -> int:
    async def _work(runtime: Runtime) -> int:
        async with runtime.sessions() as session:
            context = await contexts.get_context(session, platform.platform_id, external_id)
            return len(await connections.list_context_connections(session, context))
    return environment.with_runtime(_work)


def test_contexts_search_show_connections_without_tokens_and_disconnect(
        dashboard: Dashboard, outlook: str, base: str, xkit_environment: XkitEnvironment,
        platform: PlatformCredentials, api: httpx.Client) -> None:
    ada = seed_connection(xkit_environment, platform, "user-42", name="Ada Lovelace",
                          status="error")
    seed_connection(xkit_environment, platform, "user-7", name="Grace Hopper")

    by_id = dashboard.get(f"{base}/contexts", params={"q": "42"}).text
    assert "user-42" in by_id and "user-7" not in by_id
    by_name = dashboard.get(f"{base}/contexts", params={"q": "grace"}).text
    assert "user-7" in by_name and "user-42" not in by_name
    wildcard = dashboard.get(f"{base}/contexts", params={"q": "%"}).text
    assert "No context matches" in wildcard

    page = dashboard.get(f"{base}/contexts/{ada['context_id']}").text
    # It worked once and broke: it needs a reconnect (never "Connected", nor a bare "error").
    assert 'data-state="needs_reconnect"' in page
    for shown in ("Outlook Email", "Needs reconnect", "AADSTS70008",
                  "Your Microsoft sign-in has expired.",
                  "user-42@contoso.test", "<code>Mail.Read</code>", "Last refresh"):
        assert shown in page, shown
    assert "PLAINTEXT-" not in page

    disconnect = f"{base}/connections/{ada['connection_id']}/disconnect"
    assert "Disconnect Outlook Email from" in dashboard.get(disconnect).text
    gone = dashboard.submit(disconnect)
    assert gone.headers["location"] == f"{base}/contexts/{ada['context_id']}"
    assert "This context has no connections." in dashboard.get(gone.headers["location"]).text
    assert connection_count(xkit_environment, platform, "user-42") == 0
    assert "Connection disconnected" in dashboard.get(f"{base}/audit").text


def test_a_mailbox_connections_mail_events_are_turned_on_and_off_on_its_context_page(
        dashboard: Dashboard, outlook: str, base: str, xkit_environment: XkitEnvironment,
        platform: PlatformCredentials, api: httpx.Client) -> None:
    ada = seed_connection(xkit_environment, platform, "user-42")
    context_page = f"{base}/contexts/{ada['context_id']}"
    assert "Mail events" in dashboard.get(context_page).text
    action = f"{base}/connections/{ada['connection_id']}/mail-events"
    turned_on = dashboard.submit(context_page, action,
                                 data={"action": "on", "folders": "inbox, archive"})
    assert turned_on.status_code == 303 and turned_on.headers["location"] == context_page
    page = dashboard.get(context_page).text
    assert "On for <code>inbox</code> <code>archive</code>" in page, page
    events = api.get(f"/api/platform/connections/{ada['connection_id']}/mail/events").json()
    assert events["enabled"] is True and events["folders"] == ["inbox", "archive"]
    assert "Mail events turned on" in dashboard.get(f"{base}/audit").text

    dashboard.submit(context_page, action, data={"action": "off"})
    assert "Turn on" in dashboard.get(context_page).text
    assert api.get(f"/api/platform/connections/{ada['connection_id']}/mail/events"
                   ).json()["enabled"] is False


def test_another_platforms_context_and_connection_are_not_found(
        dashboard: Dashboard, base: str, xkit_environment: XkitEnvironment,
        other_platform: PlatformCredentials, other_api: httpx.Client) -> None:
    other_api.post("/api/platform/connectors", json={"provider": "outlook-email"})
    theirs = seed_connection(xkit_environment, other_platform, "their-user")
    assert dashboard.get(f"{base}/contexts/{theirs['context_id']}").status_code == 404
    disconnect = f"{base}/connections/{theirs['connection_id']}/disconnect"
    assert dashboard.get(disconnect).status_code == 404
    assert dashboard.submit(f"{base}/contexts", disconnect).status_code == 404
    assert connection_count(xkit_environment, other_platform, "their-user") == 1


@pytest.fixture
def other_api(other_platform: PlatformCredentials,
              xkit_server: XkitServer) -> Iterator[httpx.Client]:
    with other_platform.client(xkit_server) as client:
        yield client


# --- robustness -------------------------------------------------------------------------------

def test_odd_requests_get_a_clear_answer_never_a_500(
        dashboard: Dashboard, owner_dashboard: Dashboard, outlook: str, base: str) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', dashboard.get(outlook).text).group(1)
    for path, body, headers in [
        (outlook, b"\xff\xfe not utf-8", {"Content-Type": "application/x-www-form-urlencoded"}),
        (outlook, b'{"client_id": 1}', {"Content-Type": "application/json"}),
        (outlook, b"--broken", {"Content-Type": "multipart/form-data; boundary=x"}),
        (f"{base}/connectors/new", f"csrf_token={token}&provider=".encode(),
         {"Content-Type": "application/x-www-form-urlencoded"}),
    ]:
        response = dashboard.http.post(path, content=body, headers=headers)
        assert response.status_code < 500, (path, body[:40], response.status_code)

    # Longer than the database columns: an inline message, not a database error.
    long = "x" * 5000
    for path, form, field, limit in [
        (outlook + "/catalog", {"name": long, "action": "save"}, "name", 200),
        (outlook + "/catalog", {"name": "ok", "short_description": long, "action": "preview"},
         "short_description", 500),
        ("/admin/platforms/new", {"name": long}, "name", 200),
        (f"{base}/settings", {"name": "ok", "slug": base.rsplit("/", 1)[1],
                              "login_redirect_url": "https://x.test/" + long},
         "login_redirect_url", 2048),
    ]:
        # only a superuser may create platforms
        admin = owner_dashboard if path == "/admin/platforms/new" else dashboard
        response = admin.submit(path, data=form)
        assert response.status_code == 422, (path, field, response.status_code)
        assert inline_error(response, field) == f"Too long: at most {limit} characters."
    with Dashboard(dashboard.server) as stranger:
        assert stranger.submit("/admin/login", data={"email": long + "@x.test",
                                                     "password": long}).status_code == 401
    for path in (f"{base}/connectors/nope", f"{base}/contexts/not-a-uuid",
                 f"{base}/connections/x/disconnect", f"{base}/contexts?q=" + "%" * 300):
        response = dashboard.get(path)
        assert response.status_code in (200, 404), path
        assert response.headers["content-type"].startswith("text/html")


def test_control_characters_are_refused_next_to_the_field(
        dashboard: Dashboard, owner_dashboard: Dashboard, outlook: str, base: str) -> None:
    keys_before = dashboard.get(f"{base}/api-keys").text.count("xkit_pk_")
    for path, form, field in [
        (f"{base}/settings", {"name": "Acme\x00", "slug": base.rsplit("/", 1)[1]}, "name"),
        (outlook + "/catalog", {"name": "Mail\x00", "action": "save"}, "name"),
        (f"{base}/api-keys", {"label": "ci\x00"}, "label"),
        ("/admin/platforms/new", {"name": "Globex\nInc"}, "name"),
    ]:
        # only a superuser may create platforms
        admin = owner_dashboard if path == "/admin/platforms/new" else dashboard
        response = admin.submit(path, data=form)
        assert response.status_code == 422, (path, response.status_code)
        assert "must not contain control characters" in inline_error(response, field), path
    assert dashboard.get(f"{base}/api-keys").text.count("xkit_pk_") == keys_before


def test_lookups_with_a_nul_character_get_a_page_never_a_500(
        dashboard: Dashboard, base: str) -> None:
    """PostgreSQL cannot even compare text holding a NUL: that is the request's fault (400);
    SQLite compares it and finds nothing."""
    postgres = backend() == "postgresql"
    for path, elsewhere in [(f"{base}/contexts?q=%00", 200), (f"{base}/contexts/a%00b", 404),
                            (f"{base}/connectors/a%00b", 404)]:
        response = dashboard.get(path)
        assert response.status_code == (400 if postgres else elsewhere), path
        assert response.headers["content-type"].startswith("text/html")
        if postgres:
            assert "cannot store or look up" in response.text


def test_oversize_form_posts_get_an_html_page(
        dashboard: Dashboard, outlook: str, platform: PlatformCredentials) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', dashboard.get(outlook).text).group(1)
    huge = f"csrf_token={token}&client_id=".encode() + b"x" * 1_100_000
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is found while reading
        yield huge[:500_000]
        yield huge[500_000:]

    popup_collect = f"/p/{platform.slug}/authorizations/x/collect"
    for path, body in [(outlook, huge), (outlook, chunks()), (popup_collect, huge),
                       (popup_collect, chunks())]:
        response = dashboard.http.post(path, content=body, headers=form)
        assert response.status_code == 413, (path, response.text[:200])
        assert response.headers["content-type"].startswith("text/html"), path
        assert "too large" in response.text.lower(), path
    api = dashboard.http.post(f"/p/{platform.slug}/api/platform_user/connections", content=huge,
                              headers={"Content-Type": "application/json"})
    assert api.status_code == 413 and api.json()["error"]["code"] == "payload_too_large"


# --- webhooks ---------------------------------------------------------------------------------

def secret_on(page: httpx.Response) -> str:
    found = re.search(r'id="signing-secret" type="text" value="(whsec_[^"]+)"', page.text)
    assert found, "no signing secret on the page"
    return found.group(1)


def test_adding_a_webhook_shows_its_secret_once_and_refuses_bad_urls_inline(
        dashboard: Dashboard, base: str, api: httpx.Client) -> None:
    page = dashboard.get(f"{base}/webhooks")
    assert page.status_code == 200 and "No webhooks yet." in page.text

    empty = dashboard.submit(f"{base}/webhooks", data={"url": " "})
    assert empty.status_code == 422
    assert inline_error(empty, "url") == "Enter the URL xkit should send events to."
    wrong = dashboard.submit(f"{base}/webhooks", data={"url": "ftp://files.example.com/in",
                                                       "description": "kept"})
    assert wrong.status_code == 422
    assert inline_error(wrong, "url") == "URL must be an http(s) URL."
    assert field_value(wrong, "url") == "ftp://files.example.com/in"
    assert field_value(wrong, "description") == "kept"
    forged = dashboard.http.post(f"{base}/webhooks", data={"url": "https://example.com/x"})
    assert forged.status_code == 403
    assert api.get("/api/platform/webhooks").json() == {"webhooks": []}

    created = dashboard.submit(f"{base}/webhooks", data={
        "url": "http://127.0.0.1:9/hooks", "description": "billing backend",
        "events": ["connection.error", "connection.disabled"]})
    assert created.status_code == 200
    secret = secret_on(created)
    assert "shown only this once" in created.text
    standard = re.search(r'id="standard-webhooks-secret" type="text" value="(whsec_[^"]+)"',
                         created.text)
    assert standard and standard.group(1) == standard_secret(secret)
    listed = dashboard.get(f"{base}/webhooks").text
    assert "http://127.0.0.1:9/hooks" in listed and "billing backend" in listed
    [webhook] = api.get("/api/platform/webhooks").json()["webhooks"]
    assert webhook["events"] == ["connection.error", "connection.disabled"]
    detail = dashboard.get(f"{base}/webhooks/{webhook['id']}").text
    assert secret not in listed and secret not in detail
    assert "Nothing delivered yet" in detail

    page = f"{base}/webhooks/{webhook['id']}"
    bad = dashboard.submit(page, data={"url": "https://me:pw@example.com/in"})
    assert bad.status_code == 422 and "user name or password" in inline_error(bad, "url")
    saved = dashboard.submit(page, data={"url": "http://127.0.0.1:9/hooks",
                                         "description": "all of them"})
    assert saved.status_code == 303
    changed = api.get(f"/api/platform/webhooks/{webhook['id']}").json()
    assert (changed["events"], changed["description"], changed["enabled"]) \
        == ([], "all of them", False)


def test_a_failing_webhook_is_paused_on_the_page_then_resumed_redelivered_and_deleted(
        dashboard: Dashboard, outlook: str, base: str, api: httpx.Client,
        xkit_environment: XkitEnvironment, platform: PlatformCredentials) -> None:
    with WebhookReceiver(default_status=503) as receiver:
        webhook = api.post("/api/platform/webhooks", json={"url": receiver.url}).json()
        page = f"{base}/webhooks/{webhook['id']}"
        ada = seed_connection(xkit_environment, platform, "user-42")
        # Disconnecting in the dashboard is announced like any removal.
        dashboard.submit(f"{base}/connections/{ada['connection_id']}/disconnect")
        receiver.wait_until(lambda r: len(r.snapshot()) == 4, what="four failed attempts")
        wait_until_true(lambda: api.get(f"/api/platform/webhooks/{webhook['id']}")
                        .json()["paused"])

        warning = dashboard.get(f"{base}/webhooks").text
        assert f"{receiver.url} is paused." in warning and "HTTP 503" in warning
        detail = dashboard.get(page).text
        for shown in ("Paused", "connection.disabled", "failed", "<code>503</code>",
                      "receiver is down", "Resume and send 1 waiting"):
            assert shown in detail, shown
        assert "Redeliver</button>" not in detail, "resume first, which sends it anyway"

        receiver.default_status = 200
        resumed = dashboard.submit(page, action=f"{page}/resume")
        assert resumed.status_code == 303 and resumed.headers["location"] == page
        assert "Webhook resumed: 1 deliveries queued." in dashboard.get(page).text
        receiver.wait_until(lambda r: len(r.accepted()) == 1, what="the delivery after resume")
        wait_until_true(lambda: "<code>200</code>" in dashboard.get(page).text)

        delivery_id = api.get(f"/api/platform/webhooks/{webhook['id']}/deliveries") \
            .json()["deliveries"][0]["id"]
        again = dashboard.submit(page, action=f"{page}/deliveries/{delivery_id}/redeliver")
        assert again.status_code == 303
        receiver.wait_until(lambda r: len(r.accepted()) == 2, what="the redelivery")
        assert receiver.accepted()[0].event_id == receiver.accepted()[1].event_id

        rotated = dashboard.submit(page, action=f"{page}/rotate-secret")
        assert rotated.status_code == 200 and secret_on(rotated).startswith("whsec_")

        confirm = dashboard.get(f"{page}/delete")
        assert "Delete the webhook to" in confirm.text
        deleted = dashboard.submit(f"{page}/delete")
        assert deleted.headers["location"] == f"{base}/webhooks"
        assert "No webhooks yet." in dashboard.get(f"{base}/webhooks").text
        assert dashboard.get(page).status_code == 404


def wait_until_true(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never became true"
        time.sleep(0.1)
