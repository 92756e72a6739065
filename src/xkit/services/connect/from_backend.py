"""Connecting a context from the developer's backend, with no browser: for the auth types
whose users never visit the provider (client credentials, a service account, an API key the
backend already holds).

Machine-to-machine connections are often set up by the backend itself — a customer's account
ID arrives through the developer's own onboarding, not through a popup. This is the same
connect as the popup's (:func:`~xkit.services.connect.flow.connect_without_redirect`, after
the collect step's checks when the template asks for values), started by the Platform API.
A template that sends users to the provider's pages cannot be connected this way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import Context, Platform
from xkit.errors import Conflict, InvalidInput, NotFound
from xkit.services.auth_types import auth_type_of
from xkit.services.configuration.connectors import find_connector, template_of
from xkit.services.connect.collect import checked_answers, submit_collected
from xkit.services.connect.flow import (
    ERROR,
    CallbackOutcome,
    FlowDeps,
    begin_connection,
    connect_without_redirect,
)
from xkit.services.tokens.connections import ConnectionView, get_connection


async def connect_context(session: AsyncSession, deps: FlowDeps, platform: Platform,
                          context: Context, connector_slug: str,
                          fields: dict[str, Any]) -> ConnectionView:
    """A connection of ``context`` to the connector, active when this returns.

    Raises 409 ``browser_required`` for a connector whose users sign in at the provider,
    422 (``invalid_field``, or the provider's code with the template's message) when the
    values or the credentials are refused; the connection is then left as the popup would
    leave it (awaiting corrected values, or in ``error``)."""
    connector = await find_connector(session, platform.id, connector_slug)
    template = template_of(deps.providers, connector) if connector else None
    if connector is None or template is None:
        raise NotFound(f"no connector {connector_slug!r}", code="connector_not_found")
    if auth_type_of(template).redirects:
        raise Conflict(f"{template.name} connections are made by the user signing in at the "
                       "provider: use xkit.js connect in their browser",
                       code="browser_required")
    if fields and not template.collect:
        raise InvalidInput(f"{template.name} asks for nothing before connecting; leave out "
                           "fields", code="nothing_to_collect")
    if template.collect:
        checked_answers(template, fields)  # a typo starts nothing
    view = await begin_connection(session, deps, platform, context, connector_slug)
    authorization = view.authorization
    assert authorization is not None  # begin_connection made it
    outcome: CallbackOutcome | None
    if template.collect:
        outcome = await submit_collected(session, deps, template, authorization, fields)
    else:
        outcome = await connect_without_redirect(session, deps, authorization, {})
    if outcome is not None and outcome.status == ERROR:
        raise InvalidInput(outcome.error_message or "the connection failed",
                           code=outcome.error_code or "connect_failed")
    return await get_connection(session, platform.id, view.connection.id)
