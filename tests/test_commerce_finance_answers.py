"""Accounting and payments providers that answer without what a connection needs: the end
user reads the template's words for it, and the connection waits for a reconnect."""

from __future__ import annotations

import dataclasses
import html
import re

import httpx
import pytest

from tests.catalog_cases.commerce_finance import CASES
from tests.emulators.oauth_quirks.fixture import QuirkEmulator
from tests.provider_case import ProviderCase
from tests.support.xkit import PlatformCredentials, XkitServer
from tests.test_provider_flows import _app_and_connector, _connect, backend, provider_platform

__all__ = ["backend", "provider_platform"]  # fixtures shared with the catalog's flow tests

BY_SLUG = {case.slug: case for case in CASES}
ZOHO = BY_SLUG["zoho-books"]
MYOB = BY_SLUG["myob"]


@pytest.mark.parametrize(("case", "code", "says"), [
    (dataclasses.replace(
        ZOHO, variant="no-organisation",
        documents=(dataclasses.replace(ZOHO.documents[0], json={
            "code": 0, "message": "success", "organizations": []}),)),
     "missing_organization_id", "has no Zoho Books organisation yet"),
    (dataclasses.replace(
        ZOHO, variant="foreign-api-domain",
        token_fields={**ZOHO.token_fields, "api_domain": "https://zoho.example.test"}),
     "invalid_api_domain", "Check that you picked the right data centre"),
    (dataclasses.replace(MYOB, variant="no-company-file", callback_params={}),
     "missing_business_id", "didn't pick a MYOB company file"),
], ids=lambda value: value.id if isinstance(value, ProviderCase) else None)
def test_a_connection_missing_what_it_needs_says_so_in_the_providers_words(
        case: ProviderCase, code: str, says: str, backend: httpx.Client,
        xkit_server: XkitServer, provider_platform: PlatformCredentials,
        quirk_emulator: QuirkEmulator) -> None:
    app = _app_and_connector(case, backend, xkit_server, provider_platform, quirk_emulator)

    _, result = _connect(case, xkit_server, provider_platform, quirk_emulator)

    message = re.search(r'<p id="message">([^<]*)</p>', result.text)
    assert result.status_code == 400 and message, result.text
    assert says in html.unescape(message.group(1)), message.group(1)
    assert app["client_secret"] not in result.text
    connection = backend.get(f"/api/platform/contexts/user-{case.connector_slug}"
                             f"/connections/{case.connector_slug}")
    assert connection.status_code == 409, connection.text
    assert connection.json()["error"]["details"]["error_code"] == code
