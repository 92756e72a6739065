"""The audit log: who did what to this platform, and when."""

from __future__ import annotations

from starlette.responses import Response

from xkit.services.admin import audit
from xkit.web.admin.pages import Page, page

AUDIT_PAGE_SIZE = 200

# Plain words for the actions services record; an action missing here shows as its code.
ACTION_LABELS = {
    "platform.created": "Platform created",
    "platform.updated": "Platform settings changed",
    "admin.granted": "Admin given access",
    "connector.created": "Connector created",
    "connector.updated": "Connector changed",
    "connector.secret_set": "Client secret set",
    "connector.secret_replaced": "Client secret replaced",
    "connector.deleted": "Connector deleted",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
    "connection.deleted": "Connection disconnected",
    "mail_events.enabled": "Mail events turned on",
    "mail_events.disabled": "Mail events turned off",
}


@page
async def audit_log(current: Page) -> Response:
    assert current.platform is not None
    events = await audit.list_events(current.db, current.platform.id, limit=AUDIT_PAGE_SIZE)
    return await current.render("audit.html", nav="audit", events=events,
                                limit=AUDIT_PAGE_SIZE, labels=ACTION_LABELS)
