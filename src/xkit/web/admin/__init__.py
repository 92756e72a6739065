"""The admin dashboard: server-rendered pages under ``/admin``.

``routes`` is the whole URL map; :func:`mount` adds it (and the static files) to the app.
Every route's endpoint is wrapped by :func:`~xkit.web.admin.pages.page` or
:func:`~xkit.web.admin.pages.public_page`, which do sign-in, CSRF and platform access.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles

from xkit.web.admin import audit, auth, connectors, contexts, keys, platforms, webhooks
from xkit.web.admin.pages import PREFIX, STATIC_DIR, not_found

GET = ["GET"]
GET_POST = ["GET", "POST"]
POST = ["POST"]
PLATFORM = "/p/{platform_slug}"
CONNECTOR = PLATFORM + "/connectors/{connector_slug}"
WEBHOOK = PLATFORM + "/webhooks/{webhook_id}"

routes: list[Route] = [
    Route("/", auth.home, methods=GET, name="home"),
    Route("/setup", auth.setup, methods=GET_POST, name="setup"),
    Route("/login", auth.login, methods=GET_POST, name="login"),
    Route("/logout", auth.logout, methods=GET_POST, name="logout"),
    Route("/platforms", platforms.platform_list, methods=GET, name="platforms"),
    Route("/platforms/new", platforms.platform_new, methods=GET_POST, name="platform_new"),
    Route(PLATFORM, connectors.connector_list, methods=GET, name="platform"),
    Route(PLATFORM + "/connectors", connectors.connector_list, methods=GET, name="connectors"),
    Route(PLATFORM + "/connectors/new", connectors.provider_picker, methods=GET_POST,
          name="connector_new"),
    Route(CONNECTOR, connectors.connector_setup, methods=GET_POST, name="connector"),
    Route(CONNECTOR + "/catalog", connectors.connector_catalog, methods=GET_POST,
          name="connector_catalog"),
    Route(CONNECTOR + "/settings", connectors.connector_settings, methods=GET_POST,
          name="connector_settings"),
    Route(CONNECTOR + "/enabled", connectors.connector_enabled, methods=POST,
          name="connector_enabled"),
    Route(CONNECTOR + "/delete", connectors.connector_delete, methods=GET_POST,
          name="connector_delete"),
    Route(PLATFORM + "/settings", platforms.platform_settings, methods=GET_POST,
          name="platform_settings"),
    Route(PLATFORM + "/api-keys", keys.key_list, methods=GET_POST, name="api_keys"),
    Route(PLATFORM + "/api-keys/{publishable_key}/revoke", keys.key_revoke, methods=GET_POST,
          name="api_key_revoke"),
    Route(PLATFORM + "/contexts", contexts.context_list, methods=GET, name="contexts"),
    Route(PLATFORM + "/contexts/{context_id}", contexts.context_detail, methods=GET,
          name="context"),
    Route(PLATFORM + "/connections/{connection_id}/disconnect", contexts.connection_disconnect,
          methods=GET_POST, name="connection_disconnect"),
    Route(PLATFORM + "/webhooks", webhooks.webhook_list, methods=GET_POST, name="webhooks"),
    Route(WEBHOOK, webhooks.webhook_detail, methods=GET_POST, name="webhook"),
    Route(WEBHOOK + "/resume", webhooks.webhook_resume, methods=POST, name="webhook_resume"),
    Route(WEBHOOK + "/rotate-secret", webhooks.webhook_rotate_secret, methods=POST,
          name="webhook_rotate_secret"),
    Route(WEBHOOK + "/deliveries/{delivery_id}/redeliver", webhooks.webhook_redeliver,
          methods=POST, name="webhook_redeliver"),
    Route(WEBHOOK + "/delete", webhooks.webhook_delete, methods=GET_POST,
          name="webhook_delete"),
    Route(PLATFORM + "/audit", audit.audit_log, methods=GET, name="audit"),
]


def admin_app() -> Router:
    """The dashboard as one ASGI app: its pages, its static files, and an HTML 404."""
    mounted: list[BaseRoute] = [*routes, Mount("/static", StaticFiles(directory=STATIC_DIR),
                                               name="static")]
    return Router(mounted, default=not_found)


def mount(app: Starlette) -> None:
    app.mount(PREFIX, admin_app(), name="admin")
