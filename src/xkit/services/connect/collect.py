"""The collect step: what the end user types before (or instead of) OAuth — a subdomain, a
tenant, an environment, an API key — checked against the template's collect fields and kept
encrypted on the authorization. Collected values fill URL placeholders just like connector
settings do, for this one authorization.

For auth types that never visit the provider (an API key, a password), the answers are the
credentials: they are checked with the provider before anything is stored, and a refusal
comes back as :class:`~xkit.services.auth_types.CredentialsRejected` so the user can fix a typo.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import Authorization
from xkit.errors import Conflict, InvalidInput
from xkit.providers.schema import ProviderTemplate
from xkit.services.auth_types import auth_type_of
from xkit.services.connect.flow import (
    AWAITING,
    CallbackOutcome,
    FlowDeps,
    connect_without_redirect,
)
from xkit.services.tokens.authorization_values import encrypt_for


async def submit_collected(
    session: AsyncSession,
    deps: FlowDeps,
    template: ProviderTemplate,
    authorization: Authorization,
    values: dict[str, Any],
) -> CallbackOutcome | None:
    """Check and keep the answers. Returns the outcome when they were the credentials
    themselves (the connection is active now), None when the provider's pages come next."""
    if authorization.status != AWAITING:
        raise Conflict("this authorization no longer takes input", code="not_awaiting")
    if not template.collect:
        raise InvalidInput(
            f"{template.name} asks for nothing before connecting", code="nothing_to_collect"
        )
    try:
        resolved = template.resolve_collected({k: str(v) for k, v in values.items()})
    except ValueError as exc:
        raise InvalidInput(
            str(exc), code="invalid_field", details={"field": str(exc).split(":", 1)[0]}
        ) from None
    if not auth_type_of(template).redirects:
        return await connect_without_redirect(session, deps, authorization, resolved)
    authorization.collected = encrypt_for(deps.keyring, authorization, "collected",
                                          json.dumps(resolved))
    await session.commit()
    return None
