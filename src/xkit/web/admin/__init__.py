"""The admin dashboard: server-rendered pages under ``/admin``.

``routes`` is the whole URL map; :func:`mount` adds it (and the static files) to the app.
Every route's endpoint is wrapped by :func:`~xkit.web.admin.pages.page` or
:func:`~xkit.web.admin.pages.public_page`, which do sign-in, CSRF and platform access.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Router
from starlette.staticfiles import StaticFiles

from xkit.http.rate_limit import LOGIN_FORMS
from xkit.http.routes import PageRoute
from xkit.web.admin import (
    audit,
    auth,
    connectors,
    contexts,
    jwt_issuers,
    keys,
    platforms,
    webhooks,
)
from xkit.web.admin.pages import PREFIX, STATIC_DIR, not_found

GET = ["GET"]
GET_POST = ["GET", "POST"]
POST = ["POST"]
PLATFORM = "/p/{platform_slug}"
CONNECTOR = PLATFORM + "/connectors/{connector_slug}"
WEBHOOK = PLATFORM + "/webhooks/{webhook_id}"
JWT_ISSUER = PLATFORM + "/jwt-issuers/{issuer_id}"

routes: list[PageRoute] = [
    PageRoute("/", auth.home, methods=GET, name="home"),
    PageRoute("/setup", auth.setup, methods=GET_POST, name="setup", rate_limit=LOGIN_FORMS),
    PageRoute("/login", auth.login, methods=GET_POST, name="login", rate_limit=LOGIN_FORMS),
    PageRoute("/logout", auth.logout, methods=GET_POST, name="logout"),
    PageRoute("/platforms", platforms.platform_list, methods=GET, name="platforms"),
    PageRoute("/platforms/new", platforms.platform_new, methods=GET_POST, name="platform_new"),
    PageRoute(PLATFORM, connectors.connector_list, methods=GET, name="platform"),
    PageRoute(PLATFORM + "/connectors", connectors.connector_list, methods=GET, name="connectors"),
    PageRoute(PLATFORM + "/connectors/new", connectors.provider_picker, methods=GET_POST,
          name="connector_new"),
    PageRoute(PLATFORM + "/connectors/new/{provider_slug}", connectors.provider_preview,
              methods=GET, name="connector_new_preview"),
    PageRoute(CONNECTOR, connectors.connector_setup, methods=GET_POST, name="connector"),
    PageRoute(CONNECTOR + "/catalog", connectors.connector_catalog, methods=GET_POST,
          name="connector_catalog"),
    PageRoute(CONNECTOR + "/settings", connectors.connector_settings, methods=GET_POST,
          name="connector_settings"),
    PageRoute(CONNECTOR + "/enabled", connectors.connector_enabled, methods=POST,
          name="connector_enabled"),
    PageRoute(CONNECTOR + "/delete", connectors.connector_delete, methods=GET_POST,
          name="connector_delete"),
    PageRoute(PLATFORM + "/settings", platforms.platform_settings, methods=GET_POST,
          name="platform_settings"),
    PageRoute(PLATFORM + "/jwt-issuers", jwt_issuers.issuer_list, methods=GET_POST,
          name="jwt_issuers"),
    PageRoute(JWT_ISSUER, jwt_issuers.issuer_detail, methods=GET_POST, name="jwt_issuer"),
    PageRoute(JWT_ISSUER + "/delete", jwt_issuers.issuer_delete, methods=GET_POST,
          name="jwt_issuer_delete"),
    PageRoute(PLATFORM + "/api-keys", keys.key_list, methods=GET_POST, name="api_keys"),
    PageRoute(PLATFORM + "/api-keys/{publishable_key}/revoke", keys.key_revoke, methods=GET_POST,
          name="api_key_revoke"),
    PageRoute(PLATFORM + "/contexts", contexts.context_list, methods=GET, name="contexts"),
    PageRoute(PLATFORM + "/contexts/{context_id}", contexts.context_detail, methods=GET,
          name="context"),
    PageRoute(PLATFORM + "/connections/{connection_id}/disconnect", contexts.connection_disconnect,
          methods=GET_POST, name="connection_disconnect"),
    PageRoute(PLATFORM + "/connections/{connection_id}/mail-events",
          contexts.connection_mail_events, methods=POST, name="connection_mail_events"),
    PageRoute(PLATFORM + "/webhooks", webhooks.webhook_list, methods=GET_POST, name="webhooks"),
    PageRoute(WEBHOOK, webhooks.webhook_detail, methods=GET_POST, name="webhook"),
    PageRoute(WEBHOOK + "/resume", webhooks.webhook_resume, methods=POST, name="webhook_resume"),
    PageRoute(WEBHOOK + "/rotate-secret", webhooks.webhook_rotate_secret, methods=POST,
          name="webhook_rotate_secret"),
    PageRoute(WEBHOOK + "/deliveries/{delivery_id}/redeliver", webhooks.webhook_redeliver,
          methods=POST, name="webhook_redeliver"),
    PageRoute(WEBHOOK + "/delete", webhooks.webhook_delete, methods=GET_POST,
          name="webhook_delete"),
    PageRoute(PLATFORM + "/audit", audit.audit_log, methods=GET, name="audit"),
]


def admin_app() -> Router:
    """The dashboard as one ASGI app: its pages, its static files, and an HTML 404."""
    mounted: list[BaseRoute] = [*routes, Mount("/static", StaticFiles(directory=STATIC_DIR),
                                               name="static")]
    return Router(mounted, default=not_found)


def mount(app: Starlette) -> None:
    app.mount(PREFIX, admin_app(), name="admin")
