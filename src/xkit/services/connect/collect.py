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
from xkit.providers.schema import CollectField, ProviderTemplate
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
    resolved = checked_answers(template, values)
    if not auth_type_of(template).redirects:
        return await connect_without_redirect(session, deps, authorization, resolved)
    authorization.collected = encrypt_for(deps.keyring, authorization, "collected",
                                          json.dumps(resolved))
    await session.commit()
    return None


def checked_answers(template: ProviderTemplate, values: dict[str, Any]) -> dict[str, str]:
    """The answers as they will be kept, or :class:`InvalidInput` (``invalid_field``) naming
    the first field at fault, with every field's problem in ``details.fields``."""
    answers = {k: str(v) for k, v in values.items()}
    problems = field_problems(template, answers)
    if problems:
        first = next(iter(problems))
        label = next(f.label for f in template.collect if f.name == first)
        raise InvalidInput(f"{label}: {problems[first]}", code="invalid_field",
                           details={"field": first, "fields": problems})
    try:
        return template.resolve_collected(answers)
    except ValueError:  # field_problems found nothing: an unknown field name
        known = ", ".join(f.name for f in template.collect)
        raise InvalidInput(f"{template.name} asks only for: {known}",
                           code="invalid_field") from None


def field_problems(template: ProviderTemplate, values: dict[str, str]) -> dict[str, str]:
    """What is wrong with each answer, by field name, in words for the end user.

    Each sentence is shown next to its field, so it need not name it; and it never repeats
    what was typed — that may be a secret, and it is in the box above anyway (or, for a
    secret, deliberately not). Fields are checked by their template definitions, the same
    checks :meth:`ProviderTemplate.resolve_collected` makes."""
    problems: dict[str, str] = {}
    for field in template.collect:
        problem = _problem(template, field, values.get(field.name, ""))
        if problem:
            problems[field.name] = problem
    return problems


def _problem(template: ProviderTemplate, field: CollectField, value: str) -> str | None:
    if not value:
        return "Fill this in to continue." if field.required else None
    try:
        field.check(value)
    except ValueError:
        pass
    else:
        return None
    if len(value) > 2000:
        return "This is too long. Paste only what the description below asks for."
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "This contains a line break or another character that can't be part of it."
    if field.type == "choice":
        return "Choose one of the options in the list."
    if field.type == "secret":
        return (f"This doesn't look like what {template.name} gives you here. Copy it again "
                f"from {template.name} and paste it whole, with no spaces around it.")
    return (f"This isn't in the form {template.name} uses. Check it for a typo, a missing "
            "character or a space.")
