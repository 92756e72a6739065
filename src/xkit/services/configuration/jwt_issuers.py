"""A platform's JWT issuers: the app's own login system, whose user JWTs xkit.js may sign in
with instead of a context token (verification: :mod:`xkit.services.connect.user_jwt`).

Every field is checked here, for the Platform API and the dashboard alike, and every problem
is reported at once (``details["errors"]``), so a form can show them all. The JWKS URL must be
public https — it is fetched on the platform's behalf, through the outbound policy — unless the
operator allows private networks for provider calls (``XKIT_PROVIDER_ALLOW_PRIVATE_NETWORKS``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import JwtIssuer, Platform
from xkit.errors import Conflict, InvalidInput, NotFound
from xkit.outbound import endpoint_problem
from xkit.services.admin import audit
from xkit.services.configuration.validation import check_http_url, check_text

# Asymmetric algorithms only: the key comes from a public JWKS, so a symmetric algorithm
# (HS256 …) would let anyone who reads the JWKS forge tokens with the public key as secret.
ALLOWED_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)
DEFAULT_ALGORITHMS = ("RS256",)
EDITABLE_FIELDS = ("issuer", "audience", "jwks_url", "user_id_claim", "name_claim",
                   "algorithms", "enabled")
MAX_ISSUERS = 20
_CLAIM_NAME = re.compile(r"^[A-Za-z0-9_:./\-]{1,100}$")


@dataclass(frozen=True)
class IssuerPolicy:
    """What the operator allows: http and private addresses for JWKS URLs in tests only."""

    allow_private_networks: bool = False


def _required_text(value: object, field: str, maximum: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} is required", details={"field": field})
    return check_text(value.strip(), field=field, maximum=maximum)


def _jwks_url(value: object, policy: IssuerPolicy) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("jwks_url is required", details={"field": "jwks_url"})
    if not value.strip().lower().startswith(("https://", "http://")):
        raise InvalidInput("jwks_url must be an https:// URL, such as the jwks_uri of the "
                           "issuer's /.well-known/openid-configuration",
                           details={"field": "jwks_url"})
    url = check_http_url(value, field="jwks_url")
    if not policy.allow_private_networks:
        problem = endpoint_problem(url)
        if problem is not None:
            raise InvalidInput(
                f"jwks_url {problem}; the JWKS must be at a public https address (an operator "
                "can allow private networks with XKIT_PROVIDER_ALLOW_PRIVATE_NETWORKS)",
                details={"field": "jwks_url"})
    return url


def _claim(value: object, field: str, *, optional: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise InvalidInput(f"{field} is required", details={"field": field})
    if not isinstance(value, str) or not _CLAIM_NAME.match(value.strip()):
        raise InvalidInput(f"{field} must be a claim name of 1-100 letters, digits or _:./-",
                           details={"field": field})
    return value.strip()


def _algorithms(value: object) -> list[str]:
    if value is None:
        return list(DEFAULT_ALGORITHMS)
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value) or not value:
        raise InvalidInput("algorithms must be a non-empty list, e.g. [\"RS256\"]",
                           details={"field": "algorithms"})
    refused = [a for a in value if a not in ALLOWED_ALGORITHMS]
    if refused:
        raise InvalidInput(
            f"algorithm {refused[0]!r} is not allowed: use asymmetric ones only "
            f"({', '.join(ALLOWED_ALGORITHMS)}); 'none' and HS* are always refused",
            details={"field": "algorithms"})
    return list(dict.fromkeys(value))


def check_fields(fields: dict[str, Any], policy: IssuerPolicy, *,
                 partial: bool) -> dict[str, Any]:
    """The cleaned fields, or InvalidInput naming the first problem, with every problem in
    ``details["errors"]`` (field → message). ``partial``: only the fields given (an update)."""
    checks = {
        "issuer": lambda v: _required_text(v, "issuer", 2048),
        "audience": lambda v: _required_text(v, "audience", 2048),
        "jwks_url": lambda v: _jwks_url(v, policy),
        "user_id_claim": lambda v: _claim("sub" if v is None and not partial else v,
                                          "user_id_claim", optional=False),
        "name_claim": lambda v: _claim(v, "name_claim", optional=True),
        "algorithms": _algorithms,
        "enabled": _enabled,
    }
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, check in checks.items():
        if partial and name not in fields:
            continue
        try:
            cleaned[name] = check(fields.get(name))
        except InvalidInput as exc:
            errors[name] = exc.message
    if errors:
        first = next(iter(errors))
        raise InvalidInput(errors[first], details={"field": first, "errors": errors})
    return cleaned


def _enabled(value: object) -> bool:
    if value is None:
        return True
    if not isinstance(value, bool):
        raise InvalidInput("enabled must be true or false", details={"field": "enabled"})
    return value


async def list_issuers(session: AsyncSession, platform_id: str) -> list[JwtIssuer]:
    found = await session.scalars(select(JwtIssuer).where(JwtIssuer.platform_id == platform_id)
                                  .order_by(JwtIssuer.created_at, JwtIssuer.id))
    return list(found)


async def get_issuer(session: AsyncSession, platform_id: str, issuer_id: str) -> JwtIssuer:
    """Scoped by platform: another platform's issuer is as absent as a made-up id."""
    found = await session.scalar(select(JwtIssuer).where(
        JwtIssuer.platform_id == platform_id, JwtIssuer.id == issuer_id))
    if found is None:
        raise NotFound(f"no JWT issuer {issuer_id!r}", code="jwt_issuer_not_found")
    return found


async def find_enabled_issuer(session: AsyncSession, platform_id: str,
                              issuer: str) -> JwtIssuer | None:
    """The platform's enabled issuer whose ``issuer`` is exactly a token's ``iss``."""
    found: JwtIssuer | None = await session.scalar(select(JwtIssuer).where(
        JwtIssuer.platform_id == platform_id, JwtIssuer.issuer == issuer,
        JwtIssuer.enabled.is_(True)))
    return found


async def _refuse_duplicate(session: AsyncSession, platform_id: str, issuer: str,
                            keep_id: str | None = None) -> None:
    existing = await session.scalar(select(JwtIssuer.id).where(
        JwtIssuer.platform_id == platform_id, JwtIssuer.issuer == issuer))
    if existing is not None and existing != keep_id:
        raise Conflict(f"this platform already has the issuer {issuer!r}; edit that one",
                       code="jwt_issuer_exists", details={"field": "issuer"})


async def create_issuer(session: AsyncSession, policy: IssuerPolicy, platform: Platform,
                        fields: dict[str, Any], *, actor: str) -> JwtIssuer:
    cleaned = check_fields(fields, policy, partial=False)
    await _refuse_duplicate(session, platform.id, cleaned["issuer"])
    count = len(await list_issuers(session, platform.id))
    if count >= MAX_ISSUERS:
        raise Conflict(f"a platform may have at most {MAX_ISSUERS} JWT issuers",
                       code="too_many_jwt_issuers")
    row = JwtIssuer(platform_id=platform.id, **cleaned)
    session.add(row)
    await session.flush()
    audit.record(session, actor=actor, action="jwt_issuer.created", platform_id=platform.id,
                 target_type="jwt_issuer", target_id=row.id,
                 details={"issuer": row.issuer})
    await session.commit()
    return row


async def update_issuer(session: AsyncSession, policy: IssuerPolicy, row: JwtIssuer,
                        fields: dict[str, Any], *, actor: str) -> JwtIssuer:
    cleaned = check_fields({k: v for k, v in fields.items() if k in EDITABLE_FIELDS}, policy,
                           partial=True)
    if "issuer" in cleaned:
        await _refuse_duplicate(session, row.platform_id, cleaned["issuer"], keep_id=row.id)
    for name, value in cleaned.items():
        setattr(row, name, value)
    audit.record(session, actor=actor, action="jwt_issuer.updated", platform_id=row.platform_id,
                 target_type="jwt_issuer", target_id=row.id,
                 details={"fields": sorted(cleaned)})
    await session.commit()
    return row


async def delete_issuer(session: AsyncSession, row: JwtIssuer, *, actor: str) -> None:
    audit.record(session, actor=actor, action="jwt_issuer.deleted", platform_id=row.platform_id,
                 target_type="jwt_issuer", target_id=row.id, details={"issuer": row.issuer})
    await session.delete(row)
    await session.commit()


def describe_issuer(row: JwtIssuer) -> dict[str, Any]:
    return {
        "id": row.id, "issuer": row.issuer, "audience": row.audience, "jwks_url": row.jwks_url,
        "user_id_claim": row.user_id_claim, "name_claim": row.name_claim,
        "algorithms": list(row.algorithms), "enabled": row.enabled,
        "created_at": row.created_at, "updated_at": row.updated_at,
    }
