"""Connectors: a platform's configured use of a provider template.

The client secret is write-only: it is encrypted on the way in, and every description of a
connector says only whether a secret is set and since when.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.crypto import Keyring
from xkit.db.engine import rollback_and_reload
from xkit.db.models import Connection, Connector, Platform
from xkit.db.types import new_id, utcnow
from xkit.errors import Conflict, FieldErrors, InvalidInput, NotFound
from xkit.oauth.jwt_bearer import parse_service_account_key
from xkit.outbound import endpoint_problem, host_setting_problem
from xkit.providers.registry import ProviderRegistry
from xkit.providers.schema import ProviderTemplate, SettingError
from xkit.services.admin import audit
from xkit.services.auth_types import auth_type_of
from xkit.services.configuration.keyring import client_secret_aad
from xkit.services.configuration.validation import (
    check_http_url,
    check_slug,
    check_text,
)
from xkit.services.tokens.connections import announce_removal, list_connector_connections
from xkit.services.tokens.records import ConnectorRecord

_CLIENT_ID = re.compile(r"^[\x21-\x7e]{1,500}$")  # printable ASCII, no spaces
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# (field, longest value, may span lines) of the catalog texts
_TEXT_FIELDS = (("name", 200, False), ("short_description", 500, True),
                ("description", 20_000, True))
EDITABLE_FIELDS = (
    "slug",
    "name",
    "short_description",
    "description",
    "logo_url",
    "client_id",
    "client_secret",
    "service_account_key",
    "scopes",
    "settings",
    "enabled",
    "multiple_connections",
)
SECRET_FIELDS = frozenset({"client_secret", "service_account_key"})
#: Fields that always hold a value: ``None`` for them is refused rather than guessed at. The
#: others may be cleared with ``None`` (descriptions become empty; no logo; no client ID,
#: which leaves the connector not ready).
NOT_NULLABLE_FIELDS = (
    "provider",
    "slug",
    "name",
    "client_secret",
    "service_account_key",
    "scopes",
    "settings",
    "enabled",
    "multiple_connections",
)


@dataclass(frozen=True)
class ConnectorServices:
    """What connector operations need besides the database session."""

    providers: ProviderRegistry
    keyring: Keyring
    public_url: str
    # XKIT_PROVIDER_ALLOW_PRIVATE_NETWORKS: settings may name loopback and private endpoints
    allow_private_networks: bool = False


def callback_url(public_url: str, platform_slug: str) -> str:
    """The one redirect URI a platform registers with every provider."""
    return f"{public_url}/p/{platform_slug}/callback"


async def create_connector(
    session: AsyncSession,
    deps: ConnectorServices,
    platform: Platform,
    fields: dict[str, Any],
    *,
    actor: str,
) -> Connector:
    provider_slug = fields.get("provider")
    if not provider_slug:
        raise InvalidInput("provider is required", details={"field": "provider"})
    template = _template(deps.providers, provider_slug)
    connector = Connector(
        id=new_id(),
        platform_id=platform.id,
        provider=template.slug,
        slug=template.slug,
        name=template.name,
        short_description=template.description,
        scopes=list(template.default_scopes),
        settings=template.resolve_settings({}) if _settings_have_defaults(template) else {},
    )
    await _apply(
        session, deps, template, connector, {"slug": template.slug, **fields}, creating=True
    )
    session.add(connector)
    audit.record(
        session,
        actor=actor,
        action="connector.created",
        platform_id=platform.id,
        target_type="connector",
        target_id=connector.slug,
        details={"provider": template.slug},
    )
    if connector.client_secret is not None:
        audit.record(
            session,
            actor=actor,
            action="connector.secret_set",
            platform_id=platform.id,
            target_type="connector",
            target_id=connector.slug,
        )
    await _commit_holding_slug(session, platform.id, connector.slug)
    return connector


async def update_connector(
    session: AsyncSession,
    deps: ConnectorServices,
    connector: Connector,
    fields: dict[str, Any],
    *,
    actor: str,
) -> Connector:
    template = template_of(deps.providers, connector)
    if template is None:
        raise Conflict(provider_missing(connector)["message"], code="provider_missing")
    had_secret = connector.client_secret is not None
    await _apply(session, deps, template, connector, fields, creating=False)
    audit.record(
        session,
        actor=actor,
        action="connector.updated",
        platform_id=connector.platform_id,
        target_type="connector",
        target_id=connector.slug,
        details={"fields": sorted(k for k in fields if k not in SECRET_FIELDS)},
    )
    if SECRET_FIELDS & set(fields):
        audit.record(
            session,
            actor=actor,
            action="connector.secret_replaced" if had_secret else "connector.secret_set",
            platform_id=connector.platform_id,
            target_type="connector",
            target_id=connector.slug,
        )
    await _commit_holding_slug(session, connector.platform_id, connector.slug)
    return connector


async def connector_problems(
    session: AsyncSession, deps: ConnectorServices, connector: Connector, fields: dict[str, Any]
) -> dict[str, str]:
    """What is wrong with ``fields`` (field → message), saving nothing: a form that found
    problems of its own shows these beside them, so one submit names them all.

    The checks run on the connector itself, so the caller must roll the session back (and
    reload what it shows) afterwards: the connector then holds what is stored again."""
    template = template_of(deps.providers, connector)
    if template is None:
        return {"provider": provider_missing(connector)["message"]}
    try:
        await _apply(session, deps, template, connector, fields, creating=False)
    except (InvalidInput, Conflict) as exc:
        found = exc.details.get("errors") or {str(exc.details.get("field") or ""): exc.message}
        return {str(k): str(v) for k, v in found.items()}
    return {}


async def upsert_connector(
    session: AsyncSession,
    deps: ConnectorServices,
    platform: Platform,
    slug: str,
    fields: dict[str, Any],
    *,
    actor: str,
) -> tuple[Connector, bool]:
    """Create the connector ``slug`` or update it with ``fields`` (configuration as code:
    the same file applied twice, or by two deploys at once, ends in one connector);
    returns (connector, created)."""
    fields = {**fields, "slug": slug}
    connector = await find_connector(session, platform.id, slug)
    if connector is None:
        try:
            return await create_connector(session, deps, platform, fields, actor=actor), True
        except Conflict as exc:
            if exc.code != "slug_taken":
                raise
        connector = await get_connector(session, platform.id, slug)  # the other one won
    return await update_connector(session, deps, connector, fields, actor=actor), False


# Built once, as the other statements of the Platform API's busiest routes.
_PLATFORMS_CONNECTORS = (select(Connector).where(Connector.platform_id == bindparam("platform_id"))
                         .order_by(Connector.name))


async def list_connectors(session: AsyncSession, platform_id: str) -> list[Connector]:
    result = await session.scalars(_PLATFORMS_CONNECTORS, {"platform_id": platform_id})
    return list(result.all())


async def find_connector(session: AsyncSession, platform_id: str, slug: str) -> Connector | None:
    return await session.scalar(
        select(Connector).where(Connector.platform_id == platform_id, Connector.slug == slug)
    )


async def get_connector(session: AsyncSession, platform_id: str, slug: str) -> Connector:
    connector = await find_connector(session, platform_id, slug)
    if connector is None:
        raise NotFound(f"no connector with slug {slug!r}", code="connector_not_found")
    return connector


async def count_connections(session: AsyncSession, connector: Connector) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Connection)
            .where(Connection.connector_id == connector.id)
        )
        or 0
    )


async def delete_connector(session: AsyncSession, connector: Connector, *, actor: str) -> int:
    """Delete the connector with its connections; returns how many connections went with it."""
    removed = await count_connections(session, connector)
    await announce_removal(session, await list_connector_connections(session, connector))
    await session.delete(connector)
    audit.record(
        session,
        actor=actor,
        action="connector.deleted",
        platform_id=connector.platform_id,
        target_type="connector",
        target_id=connector.slug,
        details={"connections_removed": removed},
    )
    await session.commit()
    return removed


def describe_connector(
    connector: Connector,
    template: ProviderTemplate | None,
    *,
    public_url: str,
    platform_slug: str,
) -> dict[str, Any]:
    """Everything about a connector a developer may see: never the secret itself.

    ``template`` is None when the connector's provider template is no longer loaded (its
    file was removed from ``XKIT_PROVIDERS_DIRS``): the connector is still shown, not ready,
    with a ``problem`` saying so, so that it can be found and fixed or deleted."""
    return {
        "id": connector.id,
        "slug": connector.slug,
        "provider": connector.provider,
        "auth_type": template.auth_type if template else None,
        "name": connector.name,
        "short_description": connector.short_description,
        "description": connector.description,
        "logo_url": connector.logo_url,
        "client_id": connector.client_id,
        "client_secret_set": connector.client_secret is not None,
        "client_secret_set_at": connector.client_secret_set_at,
        "scopes": list(connector.scopes),
        "required_scopes": list(template.required_scopes) if template else [],
        "effective_scopes": (template.effective_scopes(connector.scopes) if template
                             else list(connector.scopes)),
        "settings": dict(connector.settings),
        "enabled": connector.enabled,
        "multiple_connections": connector.multiple_connections,
        "ready": template is not None and is_ready(connector, template),
        "problem": None if template else provider_missing(connector),
        "callback_url": callback_url(public_url, platform_slug),
        "created_at": connector.created_at,
        "updated_at": connector.updated_at,
    }


def provider_missing(connector: Connector) -> dict[str, str]:
    """Why a connector whose template is not loaded cannot be used, and what to do."""
    return {
        "code": "provider_missing",
        "message": f"the provider template {connector.provider!r} is not loaded on this "
                   "server, so nobody can connect; restore its file (XKIT_PROVIDERS_DIRS) "
                   "or delete the connector",
    }


def template_of(providers: ProviderRegistry,
                connector: ConnectorRecord) -> ProviderTemplate | None:
    """The connector's template, or None when it is no longer loaded."""
    return providers.get(connector.provider) if connector.provider in providers else None


def is_ready(connector: Connector, template: ProviderTemplate) -> bool:
    """Whether end users could connect now (its auth type says what that takes)."""
    return auth_type_of(template).is_ready(connector)


def _slug_taken(slug: str) -> Conflict:
    return Conflict(
        f"a connector with slug {slug!r} already exists",
        code="slug_taken",
        details={"field": "slug"},
    )


async def _commit_holding_slug(session: AsyncSession, platform_id: str, slug: str) -> None:
    """Commit; when another request took the slug between our check and this commit, the
    unique constraint refuses it, and the caller gets the same 409 as if it had been taken
    before."""
    try:
        await session.commit()
    except IntegrityError:
        await rollback_and_reload(session)
        if await find_connector(session, platform_id, slug) is not None:
            raise _slug_taken(slug) from None
        raise


def _template(providers: ProviderRegistry, slug: str) -> ProviderTemplate:
    try:
        return providers.get(slug)
    except KeyError:
        raise InvalidInput(
            f"unknown provider {slug!r}", code="unknown_provider", details={"field": "provider"}
        ) from None


def _settings_have_defaults(template: ProviderTemplate) -> bool:
    try:
        template.resolve_settings({})
    except ValueError:
        return False
    return True


async def _apply(
    session: AsyncSession,
    deps: ConnectorServices,
    template: ProviderTemplate,
    connector: Connector,
    fields: dict[str, Any],
    *,
    creating: bool,
) -> None:
    """Validate and set the given fields; nothing is written unless all of them are valid."""
    unknown = set(fields) - set(EDITABLE_FIELDS) - {"provider"}
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    for name in NOT_NULLABLE_FIELDS:
        if name in fields and fields[name] is None:
            raise InvalidInput(
                f"{name} cannot be null; leave it out to keep the current value",
                details={"field": name},
            )
    if not creating and "provider" in fields and fields["provider"] != connector.provider:
        raise InvalidInput(
            "a connector's provider cannot change; create a new connector",
            details={"field": "provider"},
        )
    problems = FieldErrors()
    if "slug" in fields and (creating or fields["slug"] != connector.slug):
        with problems.field("slug"):
            slug = check_slug(fields["slug"])
            taken = await session.scalar(
                select(Connector.id).where(
                    Connector.platform_id == connector.platform_id, Connector.slug == slug
                )
            )
            if taken:
                raise _slug_taken(slug)
            connector.slug = slug
    for name, maximum, multiline in _TEXT_FIELDS:
        if name in fields:
            with problems.field(name):
                value = check_text(str(fields[name] or "").strip(), field=name,
                                   maximum=maximum, multiline=multiline)
                if name == "name" and not value:
                    raise InvalidInput("name must not be empty", details={"field": "name"})
                setattr(connector, name, value)
    if "logo_url" in fields:
        with problems.field("logo_url"):
            connector.logo_url = (
                check_http_url(fields["logo_url"], field="logo_url")
                if fields["logo_url"] else None
            )
    if "client_id" in fields:
        client_id = (fields["client_id"] or "").strip()
        if client_id and not _CLIENT_ID.match(client_id):
            problems.add("client_id", "client_id must be printable characters without spaces")
        else:
            connector.client_id = client_id or None
    if "scopes" in fields:
        try:
            template.effective_scopes(fields["scopes"])
        except ValueError as exc:
            problems.add("scopes", str(exc), code="invalid_scope")
        else:
            required = set(template.required_scopes)
            connector.scopes = [s for s in dict.fromkeys(fields["scopes"]) if s not in required]
    if "settings" in fields:
        _apply_settings(deps, template, connector, fields["settings"], problems)
    for flag in ("enabled", "multiple_connections"):
        if flag in fields:
            setattr(connector, flag, bool(fields[flag]))
    if "service_account_key" in fields:
        with problems.field("service_account_key"):
            _set_service_account_key(deps, template, connector, fields["service_account_key"])
    if "client_secret" in fields:
        with problems.field("client_secret"):
            _set_client_secret(deps, template, connector, fields["client_secret"])
    problems.raise_if_any()


def _apply_settings(deps: ConnectorServices, template: ProviderTemplate, connector: Connector,
                    given: dict[str, Any] | None, problems: FieldErrors) -> None:
    """Set the provider's settings, or record every problem with them."""
    typed = {k: str(v) for k, v in (given or {}).items()}
    try:
        connector.settings = template.resolve_settings(typed)
    except SettingError as exc:
        for name, message in (template.setting_problems(typed) or {exc.name: str(exc)}).items():
            problems.add(f"settings.{name}", message, code="invalid_setting")
        return
    except ValueError as exc:  # an unknown setting
        problems.add("settings", str(exc), code="invalid_setting")
        return
    if not deps.allow_private_networks:
        for name in typed:
            if name in connector.settings:
                with problems.field(f"settings.{name}"):
                    _check_endpoints(template, {name: connector.settings[name]})


def _set_client_secret(deps: ConnectorServices, template: ProviderTemplate,
                       connector: Connector, value: Any) -> None:
    if template.jwt_bearer is not None:
        raise InvalidInput(f"{template.name} connectors take a service_account_key, not a "
                           "client_secret", details={"field": "client_secret"})
    secret = str(value)
    # Never echo the value: the message names the field only.
    if not secret or len(secret) > 2000 or _CONTROL.search(secret):
        raise InvalidInput(
            "client_secret is not a valid secret", details={"field": "client_secret"}
        )
    connector.client_secret = deps.keyring.encrypt(secret, aad=client_secret_aad(connector.id))
    connector.client_secret_set_at = utcnow()


def _check_endpoints(template: ProviderTemplate, typed: dict[str, str]) -> None:
    """Refuse hosts and URLs the developer typed that point inside xkit's network: plain
    http, ``localhost``, a literal private or loopback address (a host name is judged by
    what it resolves to, when it is called: see :mod:`xkit.outbound`)."""
    kinds = {setting.name: setting.type for setting in template.settings}
    for name, value in typed.items():
        if kinds.get(name) == "url":
            problem = endpoint_problem(value)
        elif kinds.get(name) == "host":
            problem = host_setting_problem(value)
        else:
            continue
        if problem is not None:
            raise InvalidInput(
                f"setting {name}: {problem}; provider endpoints must be public https "
                "addresses (an operator can allow private networks with "
                "XKIT_PROVIDER_ALLOW_PRIVATE_NETWORKS)",
                code="invalid_setting", details={"field": f"settings.{name}"})


def _set_service_account_key(deps: ConnectorServices, template: ProviderTemplate,
                             connector: Connector, value: Any) -> None:
    """Check an uploaded service account key (the JSON file, as text or as an object) and keep
    it encrypted where a client secret would go; its email becomes the client ID."""
    if template.jwt_bearer is None:
        raise InvalidInput(f"{template.name} connectors do not use a service account key",
                           details={"field": "service_account_key"})
    text = value if isinstance(value, str) else json.dumps(value)
    try:
        key = parse_service_account_key(text)
    except ValueError as exc:
        raise InvalidInput(f"service_account_key {exc}", code="invalid_service_account_key",
                           details={"field": "service_account_key"}) from None
    connector.client_id = key.client_email
    connector.client_secret = deps.keyring.encrypt(text, aad=client_secret_aad(connector.id))
    connector.client_secret_set_at = utcnow()
