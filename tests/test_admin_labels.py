"""Every field a developer fills in on the dashboard has a label: screen readers announce it,
and a click on the text focuses the field."""

from __future__ import annotations

import secrets
from html.parser import HTMLParser

import httpx

from tests.support.browser import Dashboard, create_admin
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer

UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


class _Fields(HTMLParser):
    """Collects form fields and which ids a <label for> names or a <label> wraps."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict[str, str | None]] = []
        self.labelled_ids: set[str] = set()
        self.open_labels = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "label":
            self.open_labels += 1
            if found.get("for"):
                self.labelled_ids.add(str(found["for"]))
        elif tag in ("input", "select", "textarea"):
            if tag == "input" and (found.get("type") or "text") in UNLABELLED_TYPES:
                return
            self.fields.append({**found, "_tag": tag,
                                "_wrapped": "yes" if self.open_labels else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self.open_labels:
            self.open_labels -= 1


def unlabelled(html: str) -> list[str]:
    parser = _Fields()
    parser.feed(html)
    return [
        f"<{field['_tag']} name={field.get('name')!r} id={field.get('id')!r}>"
        for field in parser.fields
        if not (field["_wrapped"] or field.get("aria-label") or field.get("aria-labelledby")
                or (field.get("id") and field["id"] in parser.labelled_ids))
    ]


def test_every_dashboard_field_has_a_label(
    xkit_environment: XkitEnvironment, xkit_server: XkitServer, platform: PlatformCredentials,
    api: httpx.Client,
) -> None:
    created = api.post("/api/platform/connectors", json={
        "provider": "outlook-email", "client_id": "11111111-2222-3333-4444-555555555555",
        "client_secret": "a-secret-value", "scopes": ["Mail.Read"]})
    assert created.status_code == 201, created.text
    api.post("/api/platform/contexts", json={"context": {"external_id": "user-1"}})
    email = f"dev-{secrets.token_hex(4)}@example.test"
    # a superuser: only they may open /admin/platforms/new
    create_admin(xkit_environment, email, platform_slugs=(platform.slug,), superuser=True)
    base = f"/admin/p/{platform.slug}"
    pages = ["/admin/platforms", "/admin/platforms/new", base,
             f"{base}/connectors/new", f"{base}/connectors/outlook-email",
             f"{base}/connectors/outlook-email/catalog",
             f"{base}/connectors/outlook-email/settings",
             f"{base}/connectors/outlook-email/delete", f"{base}/settings", f"{base}/api-keys",
             f"{base}/contexts", f"{base}/contexts?q=user", f"{base}/webhooks", f"{base}/audit"]
    with Dashboard(xkit_server) as dashboard:
        problems = {"/admin/login": missing} if (
            missing := unlabelled(dashboard.get("/admin/login").text)) else {}
        dashboard.log_in(email)
        for path in pages:
            page = dashboard.get(path)
            assert page.status_code == 200, (path, page.status_code)
            if missing := unlabelled(page.text):
                problems[path] = missing
    assert problems == {}
