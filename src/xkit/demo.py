"""``xkit demo``: the whole product in a minute, with nothing to register anywhere.

It runs xkit with the sandbox provider on, prepares a ``demo`` platform with a Sandbox
connector and an API key, and serves a small sample "developer app" on a second port whose
settings page embeds the catalog with xkit.js and gets context tokens from its own backend,
the way a real app would (through the Python SDK).
"""

from __future__ import annotations

import asyncio
import html
import secrets
from dataclasses import dataclass

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route

from xkit.runtime import Runtime
from xkit.services.admin import admins
from xkit.services.admin import sessions as admin_sessions
from xkit.services.configuration import api_keys, connectors, platforms

PLATFORM_SLUG = "demo"
DEMO_USER = "demo-user"


@dataclass(frozen=True)
class DemoSetup:
    platform_slug: str
    publishable_key: str
    secret_key: str
    admin_setup_token: str | None


async def prepare(runtime: Runtime, app_origin: str) -> DemoSetup:
    """Create (or refresh) the demo platform, its Sandbox connector and a fresh API key."""
    public_url = runtime.settings.public_url
    async with runtime.sessions() as session:
        platform = await platforms.find_platform(session, PLATFORM_SLUG)
        if platform is None:
            platform = await platforms.create_platform(
                session, slug=PLATFORM_SLUG, name="Demo", actor="demo", allowed_origins=[app_origin]
            )
        else:
            origins = sorted({*platform.allowed_origins, app_origin})
            platform = await platforms.update_platform(
                session, platform, actor="demo", changes={"allowed_origins": origins}
            )
        fields = {
            "provider": "sandbox",
            "name": "Sandbox",
            "client_id": "demo-app",
            "client_secret": secrets.token_urlsafe(24),
            "settings": {"base_url": public_url},
            "enabled": True,
            "description": "A pretend service built into xkit. **Approve** on its "
            "consent page to see a connection appear.",
        }
        existing = await connectors.find_connector(session, platform.id, "sandbox")
        if existing is None:
            await connectors.create_connector(
                session, runtime.connector_services, platform, fields, actor="demo"
            )
        else:
            await connectors.update_connector(
                session,
                runtime.connector_services,
                existing,
                {k: v for k, v in fields.items() if k != "provider"},
                actor="demo",
            )
        key, secret = await api_keys.create_api_key(
            session, platform, actor="demo", label="xkit demo"
        )
        setup_token = None
        if not await admins.count_admins(session):
            setup_token = await admin_sessions.issue_setup_token(session)
    return DemoSetup(
        platform_slug=platform.slug,
        publishable_key=key.publishable_key,
        secret_key=secret,
        admin_setup_token=setup_token,
    )


def sample_app(xkit_url: str, setup: DemoSetup) -> Starlette:
    """A stand-in for the developer's own web app: a page and a token endpoint."""
    base = f"{xkit_url}/p/{setup.platform_slug}"

    async def page(_: Request) -> HTMLResponse:
        return HTMLResponse(SAMPLE_PAGE.replace("{{XKIT_JS}}", html.escape(f"{base}/xkit.js")))

    async def token(_: Request) -> PlainTextResponse:
        # What a backend does with the SDK (docs/python-sdk.md), in plain HTTP: the server
        # does not depend on the SDK's package.
        async with httpx.AsyncClient(base_url=xkit_url, timeout=30,
                                     auth=(setup.publishable_key, setup.secret_key)) as xkit:
            answer = await xkit.post("/api/platform/contexts", json={
                "context": {"external_id": DEMO_USER, "external_name": "Demo User"}})
            answer.raise_for_status()
        return PlainTextResponse(answer.json()["access_token"],
                                 headers={"Cache-Control": "no-store"})

    return Starlette(routes=[Route("/", page), Route("/api/xkit-token", token, methods=["POST"])])


async def serve_both(xkit_config: uvicorn.Config, app: Starlette, app_port: int, host: str) -> None:
    """xkit and the sample app side by side in one process, until Ctrl-C."""
    servers = [
        uvicorn.Server(xkit_config),
        uvicorn.Server(
            uvicorn.Config(app, host=host, port=app_port, log_config=None, access_log=False)
        ),
    ]
    await asyncio.gather(*(server.serve() for server in servers))


SAMPLE_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme CRM — settings (xkit demo)</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1f2933; }
  header { background: #1e2433; color: #fff; padding: .8rem 1.5rem; font-weight: 600; }
  main { max-width: 60rem; margin: 2rem auto; padding: 0 1.5rem; }
  .note { background: #fff8e1; border-radius: 8px; padding: .75rem 1rem; }
</style>
</head>
<body>
<header>Acme CRM <small>(a sample app for the xkit demo)</small></header>
<main>
  <h1>Settings</h1>
  <p class="note">This page stands for your product. The catalog below comes from xkit through
  <code>xkit.js</code>; the page's own backend hands it a context token.</p>
  <div id="integrations"></div>
</main>
<script src="{{XKIT_JS}}"></script>
<script>
  xkit.login(async () => (await fetch("/api/xkit-token", {method: "POST"})).text());
  xkit.renderCatalog(document.getElementById("integrations"), {title: "Integrations"});
</script>
</body>
</html>
"""
