"""The collect step: what the end user types before (or instead of) OAuth — a subdomain, a
tenant, an environment, an API key — checked against the template's collect fields and kept
encrypted on the authorization. Collected values fill URL placeholders just like connector
settings do, for this one authorization."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xkit.crypto import Keyring
from xkit.db.models import Authorization
from xkit.errors import Conflict, InvalidInput
from xkit.providers.schema import ProviderTemplate
from xkit.services.authorizations import AWAITING, encrypt_for


async def store_collected(
    session: AsyncSession,
    keyring: Keyring,
    template: ProviderTemplate,
    authorization: Authorization,
    values: dict[str, Any],
) -> None:
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
    authorization.collected = encrypt_for(keyring, authorization, "collected", json.dumps(resolved))
    await session.commit()
