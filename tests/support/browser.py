"""Driving the admin dashboard in tests: Debian's Chromium through Playwright, or a plain
HTTP client that fills in forms the way a browser would (cookies, hidden CSRF fields)."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.xkit import XkitEnvironment, XkitServer
from xkit.runtime import Runtime
from xkit.services.admin import admins
from xkit.services.configuration import platforms

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Where the docs' pictures go when set (docs/images): see screenshot().
DOC_SCREENSHOTS_ENV = "XKIT_SCREENSHOTS"
PASSWORD = "correct horse battery staple"

_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')
_SETUP_LINK = re.compile(r"(https?://\S+/admin/setup\?token=[A-Za-z0-9_-]+)")


@contextmanager
def chromium(*extra_args: str) -> Iterator[Any]:
    """A headless Chromium (Debian's package, never a downloaded build); ``extra_args`` go
    after the usual ones (``--host-resolver-rules=…`` to reach a provider's real host name at
    its emulator, say)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str, *, doc: str | None = None, crop: bool = True) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/ for a person to look at.

    With ``doc`` and ``XKIT_SCREENSHOTS=<folder>`` set (``XKIT_SCREENSHOTS=docs/images``), the
    visible part of the page is also saved there as ``<doc>.png``, small enough to commit: the
    pictures in the docs are made by the tests, so they show the dashboard as it is.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    folder = os.environ.get(DOC_SCREENSHOTS_ENV)
    if doc and folder:
        save_doc_picture(page, Path(folder) / f"{doc}.png", crop=crop)
    return path


def save_doc_picture(page: Any, path: Path, *, crop: bool = True) -> Path:
    """The viewport as a PNG of at most 256 colours (a dashboard has few), optimised.

    ``crop=False`` keeps the whole viewport: a dialog in the top layer is not below the
    page's last element."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    viewport = page.viewport_size or {"width": 1280, "height": 800}
    # Cropped below the last thing shown, so a short page is not mostly empty.
    used = crop and page.evaluate("""() => Math.max(0, ...[...document.querySelectorAll(
        'main > *, .sidebar > *')].map(e => e.getBoundingClientRect().bottom))""")
    height = min(viewport["height"], max(240, int(used) + 24)) if used else viewport["height"]
    page.screenshot(path=str(path), full_page=False,
                    clip={"x": 0, "y": 0, "width": viewport["width"], "height": height})
    with Image.open(path) as shot:
        small = shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return path


def doc_pictures_wanted() -> bool:
    return bool(os.environ.get(DOC_SCREENSHOTS_ENV))


def setup_link(server: XkitServer) -> str:
    """The one-time link ``xkit serve`` printed (the newest, if it printed several)."""
    links = _SETUP_LINK.findall(server.output())
    assert links, f"xkit serve printed no setup link:\n{server.output()}"
    return links[-1]


def csrf_field(page_html: str) -> str:
    """The CSRF token of the (first) form on a page."""
    found = _CSRF_FIELD.search(page_html)
    assert found, "the page has no form with a CSRF token"
    return html.unescape(found.group(1))


def create_admin(environment: XkitEnvironment, email: str, *, platform_slugs: tuple[str, ...] = (),
                 superuser: bool = False, password: str = PASSWORD) -> str:
    """An admin made the way ``xkit admin create`` makes one; returns the email."""
    async def _work(runtime: Runtime) -> str:
        async with runtime.sessions() as session:
            admin = await admins.create_admin(session, email=email, password=password,
                                              actor="test", superuser=superuser)
            for slug in platform_slugs:
                found = await platforms.get_platform(session, slug)
                await admins.grant_platform(session, admin, found.id, actor="test")
            return admin.email
    return environment.with_runtime(_work)


class Dashboard:
    """An HTTP client that uses the dashboard like a browser with JavaScript turned off."""

    def __init__(self, server: XkitServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Dashboard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.http.get(path, **options)

    def follow(self, path: str) -> httpx.Response:
        return self.http.get(path, follow_redirects=True)

    def submit(self, form_page: str, action: str | None = None,
               data: dict[str, Any] | None = None, **options: Any) -> httpx.Response:
        """Open ``form_page``, then post ``data`` to ``action`` (default: the same URL) with the
        CSRF token that page's form carries, as a browser submitting the form would."""
        token = csrf_field(self.http.get(form_page).text)
        return self.http.post(action or form_page, data={"csrf_token": token, **(data or {})},
                              **options)

    def log_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        response = self.submit("/admin/login", data={"email": email, "password": password})
        assert response.status_code == 303, response.text
        return response

    @property
    def signed_in(self) -> bool:
        return self.http.get("/admin/platforms").status_code == 200
