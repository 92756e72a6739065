"""A developer's web app for browser tests: a page on its own origin that embeds xkit.js, and
the backend endpoint that hands the page a context token (the way a real app would, with its
secret API key), plus the page a hosted catalog sends users to for signing in.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.processes import free_port
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.runtime import Runtime
from xkit.services.configuration import platforms

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme CRM · Settings</title>
<style>
  /* The developer's own CSS, deliberately hostile to anything it could reach. */
  body {{ font-family: Georgia, serif; margin: 0; background: #f4f5f7; }}
  header {{ background: #1d2433; color: #fff; padding: 14px 24px; font: 600 17px system-ui; }}
  main {{ max-width: 980px; margin: 24px auto; padding: 0 20px; }}
  button, .card, h2, p {{ color: red !important; font-size: 30px !important; }}
</style>
</head>
<body>
<header>Acme CRM</header>
<main>
{body}
</main>
<script src="{xkit_js}"></script>
<script>
  window.xkitEvents = [];
  window.tokenCalls = 0;
  for (const name of ["connection:enable", "connection:remove", "config:update"]) {{
    xkit.on(name, (detail) => window.xkitEvents.push({{name, id: detail && detail.id}}));
  }}
  /** The developer's backend hands out context tokens; xkit.js asks again when one expires. */
  window.getToken = async () => {{
    window.tokenCalls += 1;
    const response = await fetch("/xkit-token", {{method: "POST"}});
    return response.text();
  }};
{script}
</script>
</body>
</html>
"""

DEFAULT_BODY = '<h1 class="app-title">Settings</h1>\n<div id="integrations"></div>'
DEFAULT_SCRIPT = """
  xkit.login(window.getToken);
  window.catalog = xkit.renderCatalog(document.getElementById("integrations"));
"""


class DeveloperApp:
    """``http://127.0.0.1:<port>``: another origin than xkit's."""

    def __init__(self, server: XkitServer, platform: PlatformCredentials,
                 external_id: str = "user-1") -> None:
        self.xkit = server
        self.platform = platform
        self.external_id = external_id
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.body = DEFAULT_BODY
        self.script = DEFAULT_SCRIPT
        self.token_requests = 0
        # Tokens to hand out before real ones (an expired token, for instance).
        self.queued_tokens: list[str] = []
        self._http = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    @property
    def xkit_base(self) -> str:
        """Where the page loads xkit.js from: xkit's public address, as a browser sees it."""
        return f"{self.xkit.public_url}/p/{self.platform.slug}"

    @property
    def url(self) -> str:
        return f"{self.origin}/"

    def page(self) -> str:
        return PAGE.format(body=self.body, script=self.script, xkit_js=f"{self.xkit_base}/xkit.js")

    def create_context(self) -> dict[str, Any]:
        """What the app's backend does: POST /api/platform/contexts with its secret key."""
        with self.platform.client(self.xkit) as api:
            response = api.post("/api/platform/contexts",
                                json={"context": {"external_id": self.external_id,
                                                  "external_name": "Ada Lovelace"}})
            response.raise_for_status()
            return dict(response.json())

    def context_token(self) -> str:
        return str(self.create_context()["access_token"])

    def next_token(self) -> str:
        self.token_requests += 1
        return self.queued_tokens.pop(0) if self.queued_tokens else self.context_token()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: str, content_type: str = "text/html",
                      headers: dict[str, str] | None = None) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", f"{content_type}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/login":
                    # The hosted catalog's login_redirect_url: sign the user in (here: always
                    # user-1) and send them back with a token in the fragment.
                    target = parse_qs(url.query).get("next", [app.xkit_base + "/"])[0]
                    self._send(HTTPStatus.FOUND, "", headers={
                        "Location": f"{target}#context_token={app.next_token()}"})
                    return
                if url.path == "/favicon.ico":
                    self._send(HTTPStatus.NOT_FOUND, "")
                    return
                self._send(HTTPStatus.OK, app.page())

            def do_POST(self) -> None:
                if urlsplit(self.path).path == "/xkit-token":
                    self._send(HTTPStatus.OK, app.next_token(), "text/plain")
                    return
                self._send(HTTPStatus.NOT_FOUND, "")

        return Handler


@contextmanager
def developer_app(environment: XkitEnvironment, server: XkitServer,
                  platform: PlatformCredentials, **options: Any) -> Iterator[DeveloperApp]:
    """Start the app and allow its origin on the platform (CORS, postMessage, return URLs)."""
    app = DeveloperApp(server, platform, **options)
    try:
        update_platform(environment, platform.slug,
                        allowed_origins=["https://app.example.test", app.origin])
        yield app
    finally:
        app.stop()


def update_platform(environment: XkitEnvironment, slug: str, **changes: Any) -> None:
    async def _work(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            found = await platforms.get_platform(session, slug)
            await platforms.update_platform(session, found, actor="test", changes=changes)
    environment.with_runtime(_work)


def issue_context_token(environment: XkitEnvironment, platform: PlatformCredentials,
                        context_id: str, ttl_seconds: int) -> str:
    """A context token signed the way xkit signs them, with any lifetime (negative: expired)."""
    async def _work(runtime: Runtime) -> str:
        token, _ = runtime.context_tokens.issue(platform_id=platform.platform_id,
                                                context_id=context_id,
                                                ttl=dt.timedelta(seconds=ttl_seconds))
        return token
    return environment.with_runtime(_work)

