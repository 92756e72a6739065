"""The collect step speaks to end users: a plain sentence next to the field that needs fixing,
never what was typed (it may be a secret), and the instructions' help links as real links."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.emulators.services.fixture import ServicesEmulator
from tests.support.browser import screenshot
from tests.support.flow import APP_ORIGIN, EndUser, collect_form, new_end_user, with_opener
from tests.support.xkit import PlatformCredentials, XkitServer
from xkit.web.flow.help_text import render_help

TYPED_KEY = "abc123fake"
TYPED_TOKEN = "hunter2-is-my-trello-token"  # malformed: Trello tokens have no dashes


def _trello_popup(api: httpx.Client, server: XkitServer, platform: PlatformCredentials,
                  services: ServicesEmulator, user_id: str) -> tuple[EndUser, str, str]:
    created = api.post("/api/platform/connectors",
                       json={"provider": "trello", "settings": {"api_host": services.host}})
    assert created.status_code in (201, 409), created.text
    user = new_end_user(server, platform, user_id)
    authorization = user.api("POST", "/connections", json={"connector": "trello"}).json()
    authorization_id = authorization["authorization"]["id"]
    link = user.api("POST", f"/authorizations/{authorization_id}/popup").json()["url"]
    return user, authorization_id, with_opener(link, APP_ORIGIN)


@pytest.mark.database_independent
def test_help_links_become_safe_links() -> None:
    rendered = str(render_help(
        'Under [API keys](https://dashboard.example.test/apikeys "keys"), or <https://help.test>. '
        '[Not this](javascript:alert(1)) <img src=x onerror=alert(1)> **bold**'))
    assert ('<a href="https://dashboard.example.test/apikeys" title="keys" target="_blank" '
            'rel="noopener noreferrer">API keys</a>') in rendered
    assert '<a href="https://help.test" target="_blank" rel="noopener noreferrer">' in rendered
    assert "javascript:" not in re.sub(r"\[Not this\]\(javascript:alert\(1\)\)", "", rendered)
    assert 'href="javascript' not in rendered
    assert "<img" not in rendered and "&lt;img src=x onerror=alert(1)&gt;" in rendered
    assert "<strong>bold</strong>" in rendered


def test_a_malformed_key_gets_a_plain_sentence_by_its_field_and_is_never_echoed(
        api: httpx.Client, xkit_server: XkitServer, platform: PlatformCredentials,
        services: ServicesEmulator) -> None:
    user, authorization_id, link = _trello_popup(api, xkit_server, platform, services,
                                                 "typo-user")
    form = httpx.get(link)
    assert ('<a href="https://trello.com/power-ups/admin" target="_blank" '
            'rel="noopener noreferrer">Trello\'s Power-Up admin page</a>') in form.text

    action, hidden = collect_form(form)
    refused = httpx.post(f"{xkit_server.url}{action}",
                         data={**hidden, "api_key": TYPED_KEY, "api_token": TYPED_TOKEN})
    assert refused.status_code == 400
    key_error = re.search(r'<p class="field-error" id="error-api_key"[^>]*>([^<]*)</p>',
                          refused.text)
    token_error = re.search(r'<p class="field-error" id="error-api_token"[^>]*>([^<]*)</p>',
                            refused.text)
    assert key_error and token_error
    assert key_error.group(1) == ("This isn&#39;t in the form Trello uses. Check it for a typo, "
                                  "a missing character or a space.")
    assert token_error.group(1).startswith("This doesn&#39;t look like what Trello gives you")
    assert "expected format" not in refused.text and 'id="collect-error"' not in refused.text
    assert TYPED_TOKEN not in refused.text  # the secret is nowhere in the page
    assert refused.text.count(TYPED_KEY) == 1 and f'value="{TYPED_KEY}"' in refused.text

    empty = httpx.post(f"{xkit_server.url}{collect_form(refused)[0]}",
                       data={**collect_form(refused)[1], "api_key": "", "api_token": ""})
    assert 'id="error-api_key" role="alert">Fill this in to continue.</p>' in empty.text

    # The browser API says the same, naming the field, and echoes nothing either.
    answer = user.api("POST", f"/authorizations/{authorization_id}/collect",
                      json={"fields": {"api_key": TYPED_KEY, "api_token": TYPED_TOKEN}})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_field" and error["details"]["field"] == "api_key"
    assert set(error["details"]["fields"]) == {"api_key", "api_token"}
    assert error["message"].startswith("API key: This isn't in the form Trello uses.")
    assert TYPED_KEY not in answer.text and TYPED_TOKEN not in answer.text


@pytest.mark.browser
def test_the_end_user_sees_what_to_fix_next_to_the_field(
        browser: Browser, api: httpx.Client, xkit_server: XkitServer,
        platform: PlatformCredentials, services: ServicesEmulator) -> None:
    _, _, link = _trello_popup(api, xkit_server, platform, services, "browser-typo-user")
    page = browser.new_page(viewport={"width": 520, "height": 900})
    page.goto(link)
    help_link = page.get_by_role("link", name="Trello's Power-Up admin page")
    expect(help_link).to_have_attribute("href", "https://trello.com/power-ups/admin")
    expect(help_link).to_have_attribute("rel", "noopener noreferrer")
    mark = page.locator("img.mark")
    expect(mark).to_have_attribute("src", re.compile(r"^/marks/trello\.svg\?v="))
    assert mark.evaluate("img => img.complete && img.naturalWidth") == 48

    page.get_by_label("API key").fill(TYPED_KEY)
    page.get_by_label("Token").fill(TYPED_TOKEN)
    page.locator("#continue").click()
    token_field = page.get_by_label("Token")
    expect(token_field).to_have_attribute("aria-invalid", "true")
    expect(token_field).to_have_value("")
    # the sentence sits in the field's own box, and the field points at it for screen readers
    token_box = page.locator(".field", has=page.locator("#field-api_token"))
    expect(token_box.locator(".field-error")).to_contain_text("Copy it again from Trello")
    expect(token_field).to_have_attribute("aria-describedby",
                                          re.compile(r"\berror-api_token\b"))
    expect(page.locator(".field", has=page.locator("#field-api_key")).locator(".field-error")
           ).to_have_text("This isn't in the form Trello uses. Check it for a typo, a missing "
                          "character or a space.")
    assert TYPED_TOKEN not in page.content()
    assert TYPED_KEY not in page.locator("body").inner_text()  # only inside the input box
    screenshot(page, "collect-03-field-errors")
    page.close()
