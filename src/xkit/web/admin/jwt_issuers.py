"""JWT issuers: the app's own login system, whose user JWTs xkit.js may sign in with (part of
the platform's settings). Every problem of a form is shown at once."""

from __future__ import annotations

from starlette.responses import Response

from xkit.db.models import JwtIssuer
from xkit.errors import XkitError
from xkit.services.configuration import jwt_issuers
from xkit.services.configuration.jwt_issuers import ALLOWED_ALGORITHMS, DEFAULT_ALGORITHMS
from xkit.web.admin.pages import Page, field_error, page, sentence, too_long

_LIMITS = {"issuer": 2048, "audience": 2048, "jwks_url": 2048, "user_id_claim": 100,
           "name_claim": 100}


async def _issuer(current: Page) -> JwtIssuer:
    assert current.platform is not None
    return await jwt_issuers.get_issuer(current.db, current.platform.id,
                                        current.param("issuer_id"))


async def _posted(current: Page, *, with_enabled: bool) -> dict[str, object]:
    values: dict[str, object] = {
        **(await current.fields("issuer", "audience", "jwks_url", "user_id_claim",
                                "name_claim")),
        "algorithms": await current.values("algorithms"),
    }
    if with_enabled:
        values["enabled"] = bool(await current.field("enabled"))
    return values


def _errors_of(exc: XkitError) -> dict[str, str]:
    """Every field the service refused, or the one it named."""
    found = exc.details.get("errors")
    if isinstance(found, dict) and found:
        return {str(k): sentence(str(v)) for k, v in found.items()}
    return dict([field_error(exc, "issuer")])


def _fields(values: dict[str, object]) -> dict[str, object]:
    """The form as the service takes it: an empty name claim is none."""
    return {**values, "name_claim": str(values.get("name_claim") or "").strip() or None}


@page
async def issuer_list(current: Page) -> Response:
    """GET lists the platform's issuers with a form to add one; POST adds it."""
    assert current.platform is not None
    values: dict[str, object] = {"issuer": "", "audience": "", "jwks_url": "",
                                 "user_id_claim": "sub", "name_claim": "",
                                 "algorithms": list(DEFAULT_ALGORITHMS)}
    errors: dict[str, str] = {}
    if current.request.method == "POST":
        values = await _posted(current, with_enabled=False)
        errors = too_long(values, _LIMITS)
        if not errors:
            try:
                row = await jwt_issuers.create_issuer(
                    current.db, current.runtime.issuer_policy, current.platform,
                    _fields(values), actor=current.actor)
            except XkitError as exc:
                await current.rollback()
                errors = _errors_of(exc)
            else:
                return current.redirect(current.platform_path("/jwt-issuers"),
                                        notice=f"Issuer {row.issuer} added.")
    found = await jwt_issuers.list_issuers(current.db, current.platform.id)
    return await current.render("jwt_issuers.html", status=422 if errors else 200,
                                nav="settings", issuers=found, values=values, errors=errors,
                                algorithms=ALLOWED_ALGORITHMS)


@page
async def issuer_detail(current: Page) -> Response:
    """GET shows one issuer's form; POST saves it."""
    row = await _issuer(current)
    values: dict[str, object] = {
        "issuer": row.issuer, "audience": row.audience, "jwks_url": row.jwks_url,
        "user_id_claim": row.user_id_claim, "name_claim": row.name_claim or "",
        "algorithms": list(row.algorithms), "enabled": row.enabled}
    errors: dict[str, str] = {}
    if current.request.method == "POST":
        values = await _posted(current, with_enabled=True)
        errors = too_long(values, _LIMITS)
        if not errors:
            try:
                await jwt_issuers.update_issuer(current.db, current.runtime.issuer_policy, row,
                                                _fields(values), actor=current.actor)
            except XkitError as exc:
                await current.rollback()
                row = await _issuer(current)
                errors = _errors_of(exc)
            else:
                return current.redirect(current.platform_path("/jwt-issuers"),
                                        notice=f"Issuer {row.issuer} saved.")
    return await current.render("jwt_issuer.html", status=422 if errors else 200,
                                nav="settings", issuer=row, values=values, errors=errors,
                                algorithms=ALLOWED_ALGORITHMS)


@page
async def issuer_delete(current: Page) -> Response:
    """GET asks; POST removes the issuer (its JWTs sign nobody in any more)."""
    row = await _issuer(current)
    if current.request.method == "POST":
        await jwt_issuers.delete_issuer(current.db, row, actor=current.actor)
        return current.redirect(current.platform_path("/jwt-issuers"),
                                notice=f"Issuer {row.issuer} removed.")
    return await current.render("jwt_issuer_delete.html", nav="settings", issuer=row)
