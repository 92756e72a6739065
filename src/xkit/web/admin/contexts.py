"""Contexts and their connections: search, look (never at a token), disconnect."""

from __future__ import annotations

from starlette.responses import Response

from xkit.errors import XkitError
from xkit.services.admin import dashboard
from xkit.services.connect import warnings
from xkit.services.mail import follow
from xkit.services.tokens import backend_connections, connections
from xkit.web.admin.pages import Page, page


@page
async def context_list(current: Page) -> Response:
    assert current.platform is not None
    query = current.query("q").strip()
    found = await dashboard.search_contexts(current.db, current.platform.id, query)
    return await current.render("contexts.html", nav="contexts", query=query, contexts=found,
                                limit=dashboard.CONTEXT_SEARCH_LIMIT)


@page
async def context_detail(current: Page) -> Response:
    assert current.platform is not None
    context = await dashboard.get_context_by_id(current.db, current.platform.id,
                                                current.param("context_id"))
    views = await connections.list_context_connections(current.db, context)
    rows = [(view, dashboard.connection_state(view),
             warnings.of(view.authorization) if view.authorization else [])
            for view in views]
    deps = current.runtime.token_deps
    mail = {view.connection.id: follow.supports_events(deps, view) for view in views}
    followed = await follow.follows(current.db, [view.connection.id for view in views])
    return await current.render("context.html", nav="contexts", context=context, rows=rows,
                                mail=mail, followed=followed)


@page
async def connection_mail_events(current: Page) -> Response:
    """POST turns a mailbox connection's new-mail events on (with the folders given) or off,
    as the Platform API's ``…/mail/events`` does."""
    assert current.platform is not None
    view = await connections.get_connection(current.db, current.platform.id,
                                            current.param("connection_id"))
    back = current.platform_path(f"/contexts/{view.context.id}")
    if await current.field("action") == "off":
        await follow.disable(current.db, current.platform.id, view.connection.id,
                             actor=current.actor)
        return current.redirect(back, notice="Mail events turned off.")
    folders = [f for f in (await current.field("folders")).replace(",", " ").split() if f]
    try:
        state = await follow.enable(current.db, current.runtime.token_deps,
                                    current.platform.id, view.connection.id, folders or None,
                                    actor=current.actor)
    except XkitError as exc:
        await current.db.rollback()
        return current.redirect(back, notice=f"Mail events not turned on: {exc.message}")
    return current.redirect(back, notice="Mail events on for "
                            + ", ".join(state["folders"]) + ".")


@page
async def connection_disconnect(current: Page) -> Response:
    """GET asks; POST removes the connection and its credentials, revoking the grant at the
    provider when it can (the same removal as the Platform API's and the browser API's)."""
    assert current.platform is not None
    view = await connections.get_connection(current.db, current.platform.id,
                                            current.param("connection_id"))
    if current.request.method == "POST":
        context_id = view.context.id
        await backend_connections.remove_connection(
            current.db, current.runtime.token_deps, current.platform.id, view.connection.id,
            actor=current.actor)
        return current.redirect(current.platform_path(f"/contexts/{context_id}"),
                                notice=f"{view.connector.name} disconnected.")
    return await current.render("connection_disconnect.html", nav="contexts", view=view)
