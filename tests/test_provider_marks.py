"""Provider marks: every template shows its brand's logo (Simple Icons) or our glyph for its
category, served from xkit's own origin, on catalog cards and in the dashboard's picker."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests import catalog_cases
from tests.support.browser import PASSWORD, create_admin, screenshot
from tests.support.flow import new_end_user
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.providers.marks import (
    CATEGORY_GLYPHS,
    DEFAULT_GLYPH,
    mark_path,
    mark_svg,
    simple_icon,
)
from xkit.providers.registry import ProviderRegistry
from xkit.providers.schema import ProviderTemplate

TEMPLATES = ProviderRegistry.load().all()
SVG = "{http://www.w3.org/2000/svg}"
#: Brands Simple Icons does not carry (removed at the brand's request): our glyph instead.
WITHOUT_LOGO = {"microsoft-teams", "oauth2", "onedrive", "outlook-calendar",
                "outlook-calendar-admin", "outlook-email", "outlook-email-admin", "pipedrive",
                "salesforce", "slack", "oauth2-client-credentials"} | catalog_cases.WITHOUT_LOGO
WITHOUT_LOGO |= {"campaign-monitor", "constant-contact", "deel", "eventbrite",  # marketing,
                 "klaviyo", "lever", "linkedin", "microsoft-advertising", "workday"}  # HR, data
# developer tools and project management (tests/catalog_cases/devtools_projects.py)
WITHOUT_LOGO |= {"aha", "azure-devops", "harvest", "heroku", "hubstaff", "launchdarkly", "monday",
                 "smartsheet", "wrike"}
# The communication family's brands that the Simple Icons set lacks.
WITHOUT_LOGO |= {"acuity-scheduling", "google-contacts", "microsoft-bookings", "microsoft-excel",
                 "microsoft-todo", "onenote", "outlook-contacts", "ringcentral", "sharepoint"}


def _template(**mark: Any) -> ProviderTemplate:
    return ProviderTemplate.model_validate({
        "slug": "acme", "name": "Acme", "description": "Acme's API.", "mark": mark,
        "categories": ["chat"], "docs_url": "https://docs.acme.test", "auth_type": "api_key",
        "collect": [{"name": "api_key", "label": "API key", "type": "secret"}],
        "api_key": {"name": "Authorization", "value": "Bearer {api_key}"},
        "account": {"url": "https://acme.test/me", "id": "id"}})


# -- what a template resolves to -------------------------------------------------------------


@pytest.mark.database_independent
@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.slug)
def test_every_template_resolves_to_a_mark(template: ProviderTemplate) -> None:
    root = ElementTree.fromstring(mark_svg(template))
    assert root.tag == f"{SVG}svg" and root.attrib["width"] == "48"
    assert root.find(f"{SVG}title").text == template.name  # type: ignore[union-attr]
    assert root.find(f"{SVG}rect").attrib["fill"] == template.mark.background  # type: ignore[union-attr]
    tags = {node.tag.removeprefix(SVG) for node in root.iter()}
    assert tags <= {"svg", "title", "rect", "g", "path", "circle"}  # no script, link or style
    icon = simple_icon(template.mark.icon) if template.mark.icon else None
    if template.slug in WITHOUT_LOGO:
        assert icon is None
        glyph = next((CATEGORY_GLYPHS[c] for c in template.categories if c in CATEGORY_GLYPHS),
                     DEFAULT_GLYPH)
        assert glyph in mark_svg(template).decode()
    else:
        assert icon is not None, f"{template.slug} names no Simple Icons logo"
        assert all(d in mark_svg(template).decode() for d in icon.paths)
        assert template.mark.background == icon.color  # the brand colour, from the icon set


@pytest.mark.database_independent
def test_an_icon_brings_its_colour_and_an_unknown_one_is_refused_at_load() -> None:
    github = _template(icon="github", text="GH").mark
    assert (github.background, github.foreground) == ("#181717", "#ffffff")
    assert _template(icon="mailchimp", text="MC").mark.foreground == "#1f2933"  # dark on yellow
    assert _template(icon="github", text="GH", background="#24292f").mark.background == "#24292f"
    with pytest.raises(ValueError, match="not an icon of the installed Simple Icons set"):
        _template(icon="no-such-brand", text="NB")
    with pytest.raises(ValueError, match="background"):
        _template(text="NB")  # no logo: the glyph needs the brand colour


# -- served by xkit --------------------------------------------------------------------------


def test_marks_are_served_from_xkit_with_caching_headers(xkit_server: XkitServer) -> None:
    gmail = ProviderRegistry.load().get("gmail")
    served = httpx.get(f"{xkit_server.url}{mark_path(gmail)}")
    assert served.status_code == 200 and served.content == mark_svg(gmail)
    assert served.headers["content-type"] == "image/svg+xml"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "default-src 'none'"
    again = httpx.get(f"{xkit_server.url}{mark_path(gmail)}",
                      headers={"If-None-Match": served.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    stale = httpx.get(f"{xkit_server.url}/marks/gmail.svg?v=older")
    assert stale.status_code == 200 and stale.headers["cache-control"] == "public, max-age=300"
    assert httpx.get(f"{xkit_server.url}/marks/no-such-template.svg").status_code == 404


def test_the_platform_api_lists_each_providers_mark_url(api: httpx.Client,
                                                       xkit_server: XkitServer) -> None:
    listed = {p["slug"]: p for p in api.get("/api/platform/providers").json()["providers"]}
    slack = listed["slack"]
    assert slack["mark"]["icon"] is None and slack["mark"]["background"] == "#4a154b"
    assert listed["gmail"]["mark"]["icon"] == "gmail"
    served = httpx.get(listed["gmail"]["mark_url"])
    assert listed["gmail"]["mark_url"].startswith(f"{xkit_server.url}/marks/gmail.svg?v=")
    assert served.status_code == 200 and b"<title>Gmail</title>" in served.content


@pytest.mark.browser
def test_every_mark_renders_in_chromium(browser: Browser, xkit_server: XkitServer) -> None:
    page = browser.new_page()
    page.goto(f"{xkit_server.url}/admin/login")  # a page of xkit that shows its images
    sizes = page.evaluate("""async (paths) => {
      const sizes = {};
      for (const path of paths) {
        const img = new Image();
        img.src = path;
        try { await img.decode(); sizes[path] = img.naturalWidth; } catch (e) { sizes[path] = 0; }
      }
      return sizes;
    }""", [f"{xkit_server.url}{mark_path(t)}" for t in TEMPLATES])
    assert sizes == {f"{xkit_server.url}{mark_path(t)}": 48 for t in TEMPLATES}
    page.close()


# -- on the cards and in the picker ----------------------------------------------------------


def _loaded(locator: Any) -> bool:
    return bool(locator.evaluate("img => img.complete && img.naturalWidth > 0"))


@pytest.mark.browser
def test_catalog_cards_show_each_providers_mark_and_a_custom_logo_wins(
        browser: Browser, xkit_server: XkitServer, platform: PlatformCredentials,
        api: httpx.Client) -> None:
    own_logo = f"{xkit_server.url}/favicon.svg"
    for body in ({"provider": "trello"}, {"provider": "stripe"},
                 {"provider": "slack", "client_id": "app", "client_secret": "secret"},
                 {"provider": "github", "slug": "our-github", "client_id": "app",
                  "client_secret": "secret", "logo_url": own_logo}):
        created = api.post("/api/platform/connectors", json=body)
        assert created.status_code == 201, created.text
    token = new_end_user(xkit_server, platform, "mark-viewer").token
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(f"{xkit_server.url}/p/{platform.slug}/#context_token={token}")
    expect(page.locator(".card")).to_have_count(4)
    registry = ProviderRegistry.load()
    for slug in ("trello", "stripe", "slack"):  # two logos and our chat glyph
        img = page.locator(f'.card[data-connector="{slug}"] .mark img')
        expect(img).to_have_attribute("src", f"{xkit_server.url}{mark_path(registry.get(slug))}")
        page.wait_for_function("img => img.complete", arg=img.element_handle())
        assert _loaded(img), slug
    custom = page.locator('.card[data-connector="our-github"] .mark img')
    expect(custom).to_have_attribute("src", own_logo)
    screenshot(page, "marks-01-catalog")
    page.locator('.card[data-connector="stripe"]').click()
    large = page.locator(".detail .mark.large img")
    expect(large).to_have_attribute("src", re.compile(r"/marks/stripe\.svg\?v="))
    page.close()


@pytest.mark.browser
def test_the_dashboard_picker_shows_every_providers_mark(
        browser: Browser, xkit_server: XkitServer, xkit_environment: XkitEnvironment,
        platform: PlatformCredentials) -> None:
    email = create_admin(xkit_environment, f"marks-{platform.slug}@acme.test",
                         platform_slugs=(platform.slug,))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{xkit_server.url}/admin/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/admin/p/"))
    page.goto(f"{xkit_server.url}/admin/p/{platform.slug}/connectors/new")
    marks = page.locator("#provider-list img.mark")
    expect(marks.first).to_be_visible()
    page.wait_for_load_state("networkidle")
    widths = dict(marks.evaluate_all(
        "imgs => imgs.map(img => [img.dataset.mark, img.complete ? img.naturalWidth : 0])"))
    assert {t.slug for t in TEMPLATES} <= set(widths)  # (the test server adds a few of its own)
    assert set(widths.values()) == {48}, widths
    screenshot(page, "marks-02-picker")
    page.close()
