"""Connectors: the list, the provider picker (and a provider's preview), and a connector's
three tabs.

- *Setup*: the callback URL, the app's client ID and (write-only) client secret, and the
  provider's setup guide with this platform's callback URL filled in;
- *Catalog*: how end users see it (name, descriptions, logo), with a Markdown preview;
- *Settings*: scopes and the provider's settings (tenant, cloud hosts), enable/disable, delete.

The client secret never travels back to the browser: not as a value, not on an error page.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from xkit.db.models import Connector
from xkit.errors import XkitError
from xkit.providers.schema import ProviderTemplate
from xkit.services.admin import dashboard
from xkit.services.auth_types import auth_type_of
from xkit.services.configuration import connectors
from xkit.services.configuration.connectors import callback_url
from xkit.web.admin.markdown import render_markdown
from xkit.web.admin.pages import (
    Page,
    error_page,
    errors_of,
    field_error,
    merge_errors,
    page,
    safe_next,
    sentence,
    too_long,
)

_SETTING_IN_MESSAGE = re.compile(r"^setting ([a-z][a-z0-9_]*)\b", re.IGNORECASE)
CATALOG_LIMITS = {"name": 200, "short_description": 500, "description": 20_000,
                  "logo_url": 2048}


def uses_client_credentials(template: ProviderTemplate) -> bool:
    return auth_type_of(template).app_credentials == "client"


def uses_callback(template: ProviderTemplate) -> bool:
    """The provider sends users back to xkit, so its app registration needs the callback URL
    (not for client credentials, where nobody visits the provider)."""
    return uses_client_credentials(template) and auth_type_of(template).redirects


def uses_service_account_key(template: ProviderTemplate) -> bool:
    return auth_type_of(template).app_credentials == "service_account_key"


def _first_step(template: ProviderTemplate) -> str:
    if uses_client_credentials(template) and not uses_callback(template):
        return "Paste the app's client ID and secret below."
    if uses_client_credentials(template):
        return ("Register the callback URL with the provider, then paste the app's client ID "
                "and secret below.")
    if uses_service_account_key(template):
        return "Paste the service account's JSON key below."
    return "End users bring their own credentials: describe the connector in its catalog settings."


def _preview_step(template: ProviderTemplate) -> str:
    """What setting it up will take, said before anything exists."""
    if uses_client_credentials(template) and not uses_callback(template):
        return "You paste the app's client ID and secret into xkit."
    if uses_client_credentials(template):
        return ("You register the callback URL with the provider, then paste the app's client "
                "ID and secret into xkit.")
    if uses_service_account_key(template):
        return "You paste the service account's JSON key into xkit."
    return ("End users bring their own credentials: you only describe the connector for the "
            "catalog.")


def matches(template: ProviderTemplate, query: str) -> bool:
    """The provider picker's search: every word must appear in the name, slug, description
    or categories."""
    haystack = " ".join([template.name, template.slug, template.description,
                         *template.categories]).lower()
    return all(word in haystack for word in query.lower().split())


async def _connector(current: Page) -> tuple[Connector, ProviderTemplate | None]:
    """The connector in the URL, and its template (None when it is no longer loaded)."""
    assert current.platform is not None
    connector = await connectors.get_connector(current.db, current.platform.id,
                                               current.param("connector_slug"))
    return connector, connectors.template_of(current.runtime.providers, connector)


def _connector_path(current: Page, connector: Connector, tab: str = "") -> str:
    return current.platform_path(f"/connectors/{connector.slug}{tab}")


async def _render_tab(current: Page, tab: str, connector: Connector,
                      template: ProviderTemplate | None, *, status: int = 200,
                      **context: Any) -> Response:
    assert current.platform is not None
    return await current.render(
        f"connector_{tab}.html", status=status, nav="connectors", tab=tab,
        connector=connector, template=template,
        ready=template is not None and connectors.is_ready(connector, template),
        problem=None if template else sentence(connectors.provider_missing(connector)["message"]),
        needs_credentials=template is not None and uses_client_credentials(template),
        needs_callback=template is not None and uses_callback(template),
        needs_key=template is not None and uses_service_account_key(template),
        connector_path=_connector_path(current, connector),
        callback_url=callback_url(current.public_url, current.platform.slug),
        **context)


async def _problems(current: Page, connector: Connector,
                    fields: dict[str, Any]) -> dict[str, str]:
    """What the service would refuse in ``fields``, saving nothing."""
    try:
        return await connectors.connector_problems(
            current.db, current.runtime.connector_services, connector, fields)
    finally:
        await _reload(current, connector)


async def _reload(current: Page, connector: Connector) -> None:
    """After a refused save: drop the half-applied change, show what is stored."""
    await current.rollback()
    await current.db.refresh(connector)


async def _provider_missing(current: Page, connector: Connector) -> Response:
    """A connector whose template is gone cannot be edited or connected; say why, and offer
    to delete it (the delete tab works without a template)."""
    count = await connectors.count_connections(current.db, connector)
    return await _render_tab(current, "delete", connector, None, status=409, connections=count)


# --- the list and the picker -----------------------------------------------------------------

@page
async def connector_list(current: Page) -> Response:
    assert current.platform is not None
    found = await connectors.list_connectors(current.db, current.platform.id)
    counts = await dashboard.connection_counts(current.db, current.platform.id)
    rows = []
    for connector in found:
        template = connectors.template_of(current.runtime.providers, connector)
        rows.append({"connector": connector, "template": template,
                     "connections": counts.get(connector.id, 0),
                     "ready": template is not None and connectors.is_ready(connector, template)})
    return await current.render("connectors.html", nav="connectors", rows=rows)


@page
async def provider_picker(current: Page) -> Response:
    """GET lists the templates (``?q=`` searches, without JavaScript too); POST adds one."""
    assert current.platform is not None
    if current.request.method == "POST":
        provider = await current.field("provider")
        try:
            template = current.runtime.providers.get(provider)
        except KeyError:
            return current.redirect(current.platform_path("/connectors/new"),
                                    notice="Pick a provider from the list.")
        slug = await dashboard.free_connector_slug(current.db, current.platform.id, template.slug)
        connector = await connectors.create_connector(
            current.db, current.runtime.connector_services, current.platform,
            {"provider": template.slug, "slug": slug}, actor=current.actor)
        return current.redirect(_connector_path(current, connector),
                                notice=f"{connector.name} added. {_first_step(template)}")
    query = current.query("q").strip()
    templates = [t for t in current.runtime.providers.all() if not query or matches(t, query)]
    return await current.render("providers.html", nav="new_connector", query=query,
                                templates=templates)


@page
async def provider_preview(current: Page) -> Response:
    """One provider before it is added: what it is, its setup guide and its scopes, with an
    "Add connector" button. Looking creates nothing: a connector row appears only when the
    developer decides to add it (the button posts to the picker)."""
    assert current.platform is not None
    try:
        template = current.runtime.providers.get(current.param("provider_slug"))
    except KeyError:
        return await error_page(current, 404, "Not found",
                                "There is no such provider. Pick one from the list.")
    url = callback_url(current.public_url, current.platform.slug)
    required = set(template.required_scopes)
    scopes = [{"name": s.name, "description": s.description, "required": s.name in required,
               "default": s.name in template.default_scopes} for s in template.scopes]
    return await current.render(
        "provider_preview.html", nav="new_connector", template=template, scopes=scopes,
        first_step=_preview_step(template), callback_url=url,
        needs_credentials=uses_client_credentials(template),
        needs_callback=uses_callback(template),
        guide=render_markdown(template.render_setup_guide(url, {})))


# --- the tabs ----------------------------------------------------------------------------------

@page
async def connector_setup(current: Page) -> Response:
    """Callback URL, client ID and client secret, next to the provider's setup guide."""
    assert current.platform is not None
    connector, template = await _connector(current)
    if template is None:
        return await _provider_missing(current, connector)
    values = {"client_id": connector.client_id or ""}
    errors: dict[str, str] = {}
    if current.request.method == "POST" and uses_service_account_key(template):
        errors = await _save_service_account_key(current, connector)
        if not errors:
            return current.redirect(_connector_path(current, connector),
                                    notice="Service account key saved. Next: the catalog "
                                           "settings.")
    elif current.request.method == "POST" and not uses_client_credentials(template):
        return current.redirect(_connector_path(current, connector))
    elif current.request.method == "POST":
        values["client_id"] = (await current.field("client_id")).strip()
        secret = await current.field("client_secret")
        if not values["client_id"]:
            errors["client_id"] = ("Enter the app's client ID; the setup guide says where to "
                                   "find it.")
        if not secret.strip() and connector.client_secret is None:
            errors["client_secret"] = "Paste the client secret."
        if errors:  # what the service would refuse too: every problem at once
            errors = merge_errors(errors, await _problems(current, connector, {
                "client_id": values["client_id"],
                **({"client_secret": secret.strip()} if secret.strip() else {})}))
        if not errors:
            fields = {"client_id": values["client_id"]}
            if secret.strip():
                fields["client_secret"] = secret.strip()
            try:
                await connectors.update_connector(current.db, current.runtime.connector_services,
                                                  connector, fields, actor=current.actor)
            except XkitError as exc:
                await _reload(current, connector)
                errors.update(errors_of(exc, "client_id"))
            else:
                notice = "Client ID and secret saved." if secret.strip() else "Client ID saved."
                return current.redirect(_connector_path(current, connector),
                                        notice=notice + " Next: the catalog settings.")
        if errors and secret.strip() and "client_secret" not in errors:
            errors["client_secret"] = ("Not saved: paste the secret again (xkit never sends a "
                                       "secret back to the browser).")
    guide = template.render_setup_guide(
        callback_url(current.public_url, current.platform.slug), connector.settings)
    return await _render_tab(current, "setup", connector, template,
                             status=422 if errors else 200, values=values, errors=errors,
                             guide=render_markdown(guide))


async def _save_service_account_key(current: Page, connector: Connector) -> dict[str, str]:
    """Store the pasted JSON key; the errors to show otherwise (never the key itself)."""
    key = (await current.field("service_account_key")).strip()
    if not key:
        return {"service_account_key": "Paste the contents of the service account's JSON key "
                                       "file."}
    try:
        await connectors.update_connector(current.db, current.runtime.connector_services,
                                          connector, {"service_account_key": key},
                                          actor=current.actor)
    except XkitError as exc:
        await _reload(current, connector)
        return dict([field_error(exc, "service_account_key")])
    return {}


@page
async def connector_catalog(current: Page) -> Response:
    """How the connector appears to end users; "Preview" renders without saving."""
    connector, template = await _connector(current)
    if template is None:
        return await _provider_missing(current, connector)
    names = ("name", "short_description", "description", "logo_url")
    values = {name: getattr(connector, name) or "" for name in names}
    errors: dict[str, str] = {}
    previewing = False
    if current.request.method == "POST":
        values = await current.fields(*names)
        errors = too_long(values, CATALOG_LIMITS)
        previewing = await current.field("action") == "preview"
        if not previewing and not values["name"].strip():
            errors.setdefault("name", "The catalog needs a name for this connector.")
        if errors and not previewing:  # the service's problems too: every one at once
            errors = merge_errors(errors, await _problems(current, connector, {
                k: v for k, v in values.items() if k not in errors}))
        if not errors and not previewing:
            try:
                await connectors.update_connector(current.db, current.runtime.connector_services,
                                                  connector, dict(values), actor=current.actor)
            except XkitError as exc:
                await _reload(current, connector)
                errors.update(errors_of(exc, "name"))
            else:
                return current.redirect(_connector_path(current, connector, "/catalog"),
                                        notice="Catalog settings saved. Next: scopes and "
                                               "provider settings.")
    return await _render_tab(current, "catalog", connector, template,
                             status=422 if errors else 200, values=values, errors=errors,
                             previewing=previewing)


def _scope_rows(template: ProviderTemplate, chosen: list[str], query: str) -> list[dict[str, Any]]:
    required = set(template.required_scopes)
    rows = [{"name": s.name, "description": s.description, "required": s.name in required,
             "checked": s.name in required or s.name in chosen,
             "shown": not query or query.lower() in f"{s.name} {s.description}".lower()}
            for s in template.scopes]
    return rows


@page
async def connector_settings(current: Page) -> Response:
    """Scopes (required ones locked on) and the provider's settings."""
    connector, template = await _connector(current)
    if template is None:
        return await _provider_missing(current, connector)
    query = current.query("q").strip()
    chosen = list(connector.scopes)
    listed = set(template.scope_names)
    custom = " ".join(s for s in chosen if s not in listed)
    settings = {s.name: connector.settings.get(s.name, "") for s in template.settings}
    errors: dict[str, str] = {}
    if current.request.method == "POST":
        chosen = [s for s in await current.values("scopes") if s in listed]
        custom = await current.field("custom_scopes") if template.custom_scopes else ""
        settings = {s.name: (await current.field(f"setting.{s.name}")).strip()
                    for s in template.settings}
        for name, setting in ((s.name, s) for s in template.settings):
            if setting.required and not settings[name] and not setting.default:
                errors[f"setting.{name}"] = f"{setting.label} is required."
        changes = {"scopes": [*chosen, *custom.split()],
                   "settings": {k: v for k, v in settings.items() if v}}
        if errors:  # the service's problems too: every one at once
            for field, message in (await _problems(current, connector, changes)).items():
                errors.setdefault(*_settings_error(field, message))
        if not errors:
            try:
                await connectors.update_connector(
                    current.db, current.runtime.connector_services, connector, changes,
                    actor=current.actor)
            except XkitError as exc:
                await _reload(current, connector)
                for field, message in errors_of(exc, "scopes").items():
                    errors.setdefault(*_settings_error(field, message))
            else:
                return current.redirect(_connector_path(current, connector, "/settings"),
                                        notice="Connector settings saved.")
    return await _render_tab(
        current, "settings", connector, template, status=422 if errors else 200,
        errors=errors, query=query, scopes=_scope_rows(template, chosen, query),
        custom_scopes=custom, settings=settings,
        effective_scopes=template.effective_scopes(connector.scopes))


def _settings_error(field: str, message: str) -> tuple[str, str]:
    """Where a refused save's message goes: next to the setting it names, or the scopes."""
    if field.split(".")[0] == "settings":  # "settings", or "settings.<name>"
        named = _SETTING_IN_MESSAGE.match(message)
        if named:
            return f"setting.{named.group(1)}", sentence(message[named.end():].lstrip(": "))
    if field not in ("scopes", "custom_scopes") and not field.startswith("setting"):
        field = "scopes"
    return field, sentence(message)


@page
async def connector_enabled(current: Page) -> Response:
    """Show or hide the connector in the catalog (POST only)."""
    connector, _ = await _connector(current)
    enabled = await current.field("enabled") == "true"
    await connectors.update_connector(current.db, current.runtime.connector_services, connector,
                                      {"enabled": enabled}, actor=current.actor)
    back = safe_next(await current.field("back")) or _connector_path(current, connector)
    state = "enabled: end users see it in the catalog" if enabled else \
        "disabled: hidden from the catalog"
    return current.redirect(back, notice=f"{connector.name} is {state}.")


@page
async def connector_delete(current: Page) -> Response:
    """GET asks, saying how many connections go with it; POST deletes."""
    connector, template = await _connector(current)
    if current.request.method == "POST":
        removed = await connectors.delete_connector(current.db, connector, actor=current.actor)
        noun = "connection" if removed == 1 else "connections"
        return current.redirect(current.platform_path("/connectors"),
                                notice=f"{connector.name} deleted, with {removed} {noun}.")
    count = await connectors.count_connections(current.db, connector)
    return await _render_tab(current, "delete", connector, template, connections=count)
