"""Platforms: the switcher's list, creating one, and a platform's settings and branding."""

from __future__ import annotations

import re

from starlette.responses import Response

from xkit.errors import XkitError
from xkit.services.admin import dashboard
from xkit.services.configuration import branding, platforms
from xkit.web.admin.pages import PREFIX, Page, errors_of, merge_errors, page, too_long


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def suggest_slug(name: str) -> str:
    """``"Acme Staging!"`` → ``"acme-staging"``: used when the slug field is left empty."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")


def _unprefixed(errors: dict[str, str]) -> dict[str, str]:
    """Branding problems under the form's field names (``branding.logo_url`` → ``logo_url``)."""
    return {k.removeprefix("branding."): v for k, v in errors.items()}


@page
async def platform_list(current: Page) -> Response:
    return await current.render("platforms.html", nav="platforms")


@page
async def platform_new(current: Page) -> Response:
    assert current.signed_in is not None
    dashboard.check_may_create_platforms(current.signed_in.admin)  # else a 403 page
    values = {"name": "", "slug": "", "allowed_origins": ""}
    errors: dict[str, str] = {}
    if current.request.method == "POST":
        values = await current.fields(*values)
        slug = values["slug"].strip() or suggest_slug(values["name"])
        errors = too_long(values, {"name": 200})
        if not values["name"].strip():
            errors["name"] = "Give the platform a name, such as your product's."
        if errors:  # the service's problems too: every one at once
            errors = merge_errors(errors, await platforms.platform_problems(current.db, {
                "slug": slug, "allowed_origins": _lines(values["allowed_origins"])}))
        if not errors:
            try:
                created = await platforms.create_platform(
                    current.db, slug=slug, name=values["name"], actor=current.actor,
                    allowed_origins=_lines(values["allowed_origins"]),
                    admin_user_id=current.signed_in.admin.id if current.signed_in else None)
            except XkitError as exc:
                await current.rollback()
                errors.update(errors_of(exc, "slug"))
            else:
                return current.redirect(f"{PREFIX}/p/{created.slug}/connectors",
                                        notice=f"Platform {created.name} created. "
                                               "Add its first connector.")
    return await current.render("platform_new.html", status=422 if errors else 200,
                                values=values, errors=errors, nav="platforms")


def _platform_values(current: Page) -> dict[str, object]:
    assert current.platform is not None
    stored = branding.effective_branding(current.platform.branding)
    return {
        "name": current.platform.name,
        "slug": current.platform.slug,
        "allowed_origins": "\n".join(current.platform.allowed_origins),
        "login_redirect_url": current.platform.login_redirect_url or "",
        "primary_color": stored["primary_color"],
        "background_color": stored["background_color"],
        "logo_url": stored["logo_url"] or "",
        "powered_by": stored["powered_by"],
    }


@page
async def platform_settings(current: Page) -> Response:
    assert current.platform is not None
    values = _platform_values(current)
    errors: dict[str, str] = {}
    if current.request.method == "POST":
        values = {**(await current.fields("name", "slug", "allowed_origins",
                                          "login_redirect_url", "primary_color",
                                          "background_color", "logo_url")),
                  "powered_by": bool(await current.field("powered_by"))}
        errors = too_long(values, {"name": 200, "login_redirect_url": 2048, "logo_url": 2048})
        if not str(values["name"]).strip():
            errors["name"] = "The name must not be empty."
        changes: dict[str, object] = {
            "name": values["name"],
            "slug": str(values["slug"]).strip(),
            "allowed_origins": _lines(str(values["allowed_origins"])),
            "login_redirect_url": str(values["login_redirect_url"]).strip() or None,
        }
        try:
            changes["branding"] = branding.check_branding(values)
        except XkitError as exc:
            errors = merge_errors(errors, _unprefixed(errors_of(exc, "branding")))
        if errors:  # the service's problems too: every one at once
            errors = merge_errors(errors, await platforms.platform_problems(
                current.db, changes, current.platform))
        if not errors:
            try:
                updated = await platforms.update_platform(
                    current.db, current.platform, actor=current.actor, changes=changes)
            except XkitError as exc:
                await current.rollback()
                errors.update(_unprefixed(errors_of(exc, "name")))
            else:
                return current.redirect(f"{PREFIX}/p/{updated.slug}/settings",
                                        notice="Platform settings saved.")
    return await current.render("platform_settings.html", status=422 if errors else 200,
                                values=values, errors=errors, nav="settings")

