"""``xkit demo``: the whole product in a minute, with nothing to register anywhere.

It runs xkit with the sandbox provider on, prepares a ``demo`` platform with a Sandbox
connector and an API key, and serves a small sample "developer app" on a second port whose
settings page embeds the catalog with xkit.js and gets context tokens from its own backend,
the way a real app would (with its API key pair, over plain HTTP).
"""

from __future__ import annotations

import asyncio
import html
import inspect
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Route

from xkit.runtime import Runtime
from xkit.services.admin import admins
from xkit.services.admin import sessions as admin_sessions
from xkit.services.configuration import api_keys, connectors, platforms

PLATFORM_SLUG = "demo"
DEMO_USER = "demo-user"
DEMO_KEY_LABEL = "xkit demo"


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
        # The key a previous start printed stops working: only the one on screen does.
        for earlier in await api_keys.list_api_keys(session, platform.id):
            if earlier.label == DEMO_KEY_LABEL and earlier.revoked_at is None:
                await api_keys.revoke_api_key(
                    session, platform.id, earlier.publishable_key, actor="demo"
                )
        key, secret = await api_keys.create_api_key(
            session, platform, actor="demo", label=DEMO_KEY_LABEL
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


async def use_the_connection(xkit: httpx.AsyncClient) -> dict[str, Any]:
    """What the sample app's backend runs once the user is connected: ask xkit for the
    connection (a fresh access token), then call the Sandbox API through xkit's proxy.
    Plain HTTP with the API key pair, so the page shows the requests themselves; the Python
    SDK (docs/python-sdk.md) wraps the same two calls."""
    fetched = await xkit.get("/api/platform/contexts/demo-user/connections/sandbox")
    if fetched.is_error:
        return {"xkit answered": fetched.status_code, "error": fetched.json()["error"]}
    connection = fetched.json()
    notes = await xkit.get(f"/api/platform/proxy/{connection['connection']['id']}/notes")
    return {
        "connection": {
            "id": connection["connection"]["id"],
            "status": connection["connection"]["status"],
            "account": connection["authorization"]["display_label"],
            "access_token": shortened(connection["authorization"]["access_token"]),
            "expires_at": connection["authorization"]["expires_at"],
        },
        "GET notes (through the proxy)": {
            "status": notes.status_code,
            "made_by": "xkit" if "xkit-error" in notes.headers else "the provider",
            "retry_after": notes.headers.get("retry-after"),
            "body": notes.json(),
        },
    }


async def flip_sandbox_switches(xkit: httpx.AsyncClient,
                                switches: dict[str, Any]) -> dict[str, Any]:
    """The sandbox's fault switches belong to the sandbox account, so the backend sets them
    the way it calls any Sandbox API: through the proxy, with the connection's token."""
    fetched = await xkit.get("/api/platform/contexts/demo-user/connections/sandbox")
    if fetched.is_error:
        return {"xkit answered": fetched.status_code, "error": fetched.json()["error"]}
    connection_id = fetched.json()["connection"]["id"]
    answer = await xkit.post(f"/api/platform/proxy/{connection_id}/switches", json=switches)
    return {"status": answer.status_code, "switches": answer.json()}


def shortened(token: str | None) -> str | None:
    """Enough of a token to recognise it, never the whole of it on a page."""
    return None if token is None else f"{token[:10]}… ({len(token)} characters)"


async def _run(work: Callable[[httpx.AsyncClient], Awaitable[dict[str, Any]]], xkit_url: str,
               setup: DemoSetup) -> dict[str, Any]:
    """Run one of the functions above and say what happened, errors included: trying how
    an app copes with them is what the switches are for."""
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(base_url=xkit_url, timeout=60,
                                     auth=(setup.publishable_key, setup.secret_key)) as xkit:
            result = await work(xkit)
    except httpx.HTTPError as exc:
        result = {"error": {"code": type(exc).__name__, "message": "xkit did not answer"}}
    except ValueError:
        result = {"error": {"code": "not_json", "message": "the answer was not JSON"}}
    return {**result, "took_ms": round((time.monotonic() - started) * 1000)}


def sample_app(xkit_url: str, setup: DemoSetup) -> Starlette:
    """A stand-in for the developer's own web app: a page, a token endpoint, and the two
    backend actions the page shows the code of."""
    base = f"{xkit_url}/p/{setup.platform_slug}"
    use_code = inspect.getsource(use_the_connection)
    flip_code = inspect.getsource(flip_sandbox_switches)

    async def page(_: Request) -> HTMLResponse:
        return HTMLResponse(
            SAMPLE_PAGE.replace("{{XKIT_JS}}", html.escape(f"{base}/xkit.js"))
            .replace("{{USE_CODE}}", html.escape(use_code))
            .replace("{{FLIP_CODE}}", html.escape(flip_code))
        )

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

    async def use(request: Request) -> JSONResponse:
        if (refused := _not_from_the_page(request)) is not None:
            return refused
        return JSONResponse(await _run(use_the_connection, xkit_url, setup))

    async def flip(request: Request) -> JSONResponse:
        if (refused := _not_from_the_page(request)) is not None:
            return refused
        try:
            switches = json.loads(await request.body())
        except ValueError:
            switches = None
        if not isinstance(switches, dict):
            return JSONResponse({"error": "send the switches as a JSON object"}, status_code=400)
        return JSONResponse(
            await _run(lambda xkit: flip_sandbox_switches(xkit, switches), xkit_url, setup))

    return Starlette(routes=[
        Route("/", page),
        Route("/api/xkit-token", token, methods=["POST"]),
        Route("/api/use-connection", use, methods=["POST"]),
        Route("/api/sandbox-switches", flip, methods=["POST"]),
    ])


def _not_from_the_page(request: Request) -> JSONResponse | None:
    """Only JSON requests: another site's page cannot send those here without a CORS
    preflight, which this app never grants."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return JSONResponse({"error": "send Content-Type: application/json"}, status_code=415)
    return None


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
  main { max-width: 72rem; margin: 2rem auto; padding: 0 1.5rem; }
  .note { background: #fff8e1; border-radius: 8px; padding: .75rem 1rem; }
  .pair { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1rem; }
  @media (max-width: 50rem) { .pair { grid-template-columns: 1fr; } }
  .pair h3 { font-size: .9rem; margin: 0 0 .3rem; color: #52606d; }
  pre { background: #1e2433; color: #e4e7eb; border-radius: 8px; padding: .8rem 1rem;
        overflow: auto; font-size: .8rem; margin: 0; min-height: 6rem; }
  .buttons { display: flex; flex-wrap: wrap; gap: .5rem; margin: .5rem 0 1rem; }
  button { font: inherit; padding: .4rem .8rem; border-radius: 6px; border: 1px solid #9aa5b1;
           background: #fff; cursor: pointer; }
  button.primary { background: #6d28d9; color: #fff; border-color: #6d28d9; }
</style>
</head>
<body>
<header>Acme CRM <small>(a sample app for the xkit demo)</small></header>
<main>
  <h1>Settings</h1>
  <p class="note">This page stands for your product. The catalog below comes from xkit through
  <code>xkit.js</code>; the page's own backend hands it a context token.</p>
  <div id="integrations"></div>

  <section id="use">
    <h2>What the backend does with the connection</h2>
    <p>Once you are connected, this app's backend asks xkit for the connection (a fresh access
    token) and calls the Sandbox API through xkit's proxy. The code on the left is the code it
    runs; the right side is what it got.</p>
    <div class="buttons"><button class="primary" id="run">Run it again</button></div>
    <div class="pair">
      <div><h3>The code (Python, httpx and the API key)</h3><pre id="code">{{USE_CODE}}</pre></div>
      <div><h3>The result</h3><pre id="result" aria-live="polite">Connect the Sandbox above;
this runs as soon as you are connected.</pre></div>
    </div>
  </section>

  <section id="switches">
    <h2>Make the Sandbox misbehave</h2>
    <p>Try how your app copes: each button sets a switch on the sandbox account you connected,
    then <em>Run it again</em> shows what your backend would see.</p>
    <div class="buttons">
      <button data-switches='{"revoke": true}'>Revoke the grant</button>
      <button data-switches='{"fail_next": 3, "fail_status": 503}'>
        Fail the next 3 calls (503)</button>
      <button data-switches='{"fail_next": 2, "fail_status": 429, "retry_after": 1}'>
        Fail the next 2 calls (429, Retry-After: 1)</button>
      <button data-switches='{"delay_ms": 2000}'>Answer slowly (2 s)</button>
      <button data-switches='{"reset": true}'>Back to normal</button>
    </div>
    <div class="pair">
      <div><h3>The code</h3><pre id="switch-code">{{FLIP_CODE}}</pre></div>
      <div><h3>The result</h3><pre id="switch-result" aria-live="polite"></pre></div>
    </div>
  </section>
</main>
<script src="{{XKIT_JS}}"></script>
<script>
  xkit.login(async () => (await fetch("/api/xkit-token", {method: "POST"})).text());
  xkit.renderCatalog(document.getElementById("integrations"), {title: "Integrations"});

  async function post(path, body) {
    const response = await fetch(path, {method: "POST", body: JSON.stringify(body),
                                         headers: {"Content-Type": "application/json"}});
    return JSON.stringify(await response.json(), null, 2);
  }
  async function run() {
    const result = document.getElementById("result");
    result.textContent = "Running…";
    result.textContent = await post("/api/use-connection", {});
  }
  document.getElementById("run").addEventListener("click", run);
  xkit.on("connection:enable", run);
  for (const button of document.querySelectorAll("[data-switches]")) {
    button.addEventListener("click", async () => {
      const result = document.getElementById("switch-result");
      result.textContent = "Setting…";
      result.textContent = await post("/api/sandbox-switches", JSON.parse(button.dataset.switches));
    });
  }
</script>
</body>
</html>
"""
