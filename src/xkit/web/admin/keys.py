"""API keys: list with last use, create (the secret shown once), revoke."""

from __future__ import annotations

from starlette.responses import Response

from xkit.errors import NotFound, XkitError
from xkit.services.configuration import api_keys
from xkit.web.admin.pages import Page, field_error, page


@page
async def key_list(current: Page) -> Response:
    """GET lists the keys. POST creates one and answers with its secret directly.

    This is the one form that does not redirect after POST: the secret exists in plaintext
    only in this response (xkit stores a hash), so there is no later page that could show it.
    The page is ``no-store`` like every dashboard page, so it is not kept in the cache either.
    """
    assert current.platform is not None
    errors: dict[str, str] = {}
    label = ""
    if current.request.method == "POST":
        label = (await current.field("label")).strip()
        try:
            key, secret = await api_keys.create_api_key(current.db, current.platform,
                                                        actor=current.actor, label=label)
        except XkitError as exc:
            await current.rollback()
            errors.update([field_error(exc, "label")])
        else:
            return await current.render("api_key_created.html", nav="api_keys", key=key,
                                        secret=secret)
    keys = await api_keys.list_api_keys(current.db, current.platform.id)
    keys.sort(key=lambda k: (k.revoked_at is not None, k.created_at), reverse=False)
    return await current.render("api_keys.html", status=422 if errors else 200,
                                nav="api_keys", keys=keys, errors=errors, label=label)


@page
async def key_revoke(current: Page) -> Response:
    """GET asks for confirmation; POST revokes (requests with the key fail from then on)."""
    assert current.platform is not None
    publishable = current.param("publishable_key")
    keys = {k.publishable_key: k for k in await api_keys.list_api_keys(current.db,
                                                                         current.platform.id)}
    key = keys.get(publishable)
    if key is None:
        raise NotFound("this platform has no such API key", code="api_key_not_found")
    if current.request.method == "POST":
        await api_keys.revoke_api_key(current.db, current.platform.id, publishable,
                                      actor=current.actor)
        return current.redirect(current.platform_path("/api-keys"),
                                notice=f"Key {publishable} revoked.")
    return await current.render("api_key_revoke.html", nav="api_keys", key=key)
