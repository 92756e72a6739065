"""Drive the connect flow over HTTP the way xkit.js and a popup would, without a browser."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.emulators.oidc_provider.fixture import OidcProvider
from tests.support.xkit import PlatformCredentials, XkitServer

APP_ORIGIN = "https://app.example.test"


@dataclass
class EndUser:
    """An end user of the developer's app: a context token and the browser API."""

    server: XkitServer
    platform: PlatformCredentials
    token: str

    @property
    def base(self) -> str:
        return f"{self.server.url}/p/{self.platform.slug}"

    def api(self, method: str, path: str, **options: Any) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Origin": APP_ORIGIN,
            **options.pop("headers", {}),
        }
        return httpx.request(
            method, f"{self.base}/api/platform_user{path}", headers=headers, timeout=30, **options
        )

    def start_popup(
        self, connector: str, *, opener_origin: str = APP_ORIGIN
    ) -> tuple[str, httpx.Response]:
        """Create the connection and follow the popup to the provider's authorize URL."""
        created = self.api("POST", "/connections", json={"connector": connector})
        assert created.status_code == 201, created.text
        authorization_id = created.json()["authorization"]["id"]
        to_provider = self.open_popup(authorization_id, opener_origin=opener_origin)
        assert to_provider.status_code == 302, to_provider.text
        return authorization_id, to_provider

    def new_authorization(self, connector: str) -> str:
        """What Connect does first: a connection whose authorization awaits the provider."""
        created = self.api("POST", "/connections", json={"connector": connector})
        assert created.status_code == 201, created.text
        return str(created.json()["authorization"]["id"])

    def open_popup(
        self, authorization_id: str, *, opener_origin: str = APP_ORIGIN
    ) -> httpx.Response:
        link = self.api("POST", f"/authorizations/{authorization_id}/popup")
        assert link.status_code == 200, link.text
        return httpx.get(with_opener(link.json()["url"], opener_origin), timeout=30)


def back_at_xkit(url: str, to_provider: httpx.Response) -> httpx.Response:
    """The browser arriving at xkit's callback ``url``, bringing the cookie xkit set when it
    sent that browser to the provider (``to_provider``: that redirect), as a browser would."""
    return httpx.get(url, cookies=to_provider.cookies, timeout=30)


def collect_form(page: httpx.Response) -> tuple[str, dict[str, str]]:
    """The collect form's action and hidden fields (token, opener), as a browser would post."""
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    assert action, page.text
    return action.group(1), hidden


def with_opener(popup_url: str, opener_origin: str) -> str:
    """The popup link as xkit.js opens it (httpx's ``params=`` would drop the link's query)."""
    return f"{popup_url}&{urlencode({'opener_origin': opener_origin})}"


def new_end_user(
    server: XkitServer, platform: PlatformCredentials, external_id: str = "user-1"
) -> EndUser:
    with platform.client(server) as api:
        response = api.post(
            "/api/platform/contexts", json={"context": {"external_id": external_id}}
        )
        response.raise_for_status()
    return EndUser(server=server, platform=platform, token=response.json()["access_token"])


def outlook_connector(
    api: httpx.Client,
    server: XkitServer,
    platform: PlatformCredentials,
    microsoft: MicrosoftEmulator,
    **fields: Any,
) -> dict[str, Any]:
    """An Outlook Email connector whose app is registered at the emulator."""
    app = microsoft.register_app(redirect_uris=[f"{server.url}/p/{platform.slug}/callback"])
    body = {
        "provider": "outlook-email",
        "client_id": app["client_id"],
        "client_secret": app["secrets"][0],
        "scopes": ["User.Read", "Mail.Read", "Mail.Send"],
        "settings": {"login_host": microsoft.base_host, "graph_host": microsoft.base_host},
        **fields,
    }
    response = api.post("/api/platform/connectors", json=body)
    assert response.status_code == 201, response.text
    return {"connector": response.json(), "app": app}


def follow_provider(response: httpx.Response, microsoft: MicrosoftEmulator) -> httpx.Response:
    """From xkit's redirect to the provider, through (auto-)consent, to xkit's callback."""
    assert response.status_code == 302, response.text
    with microsoft.client() as provider:
        consent = provider.get(response.headers["location"])
    assert consent.status_code == 302, consent.text
    return back_at_xkit(consent.headers["location"], response)


def sign_in_at_provider(
    response: httpx.Response, microsoft: MicrosoftEmulator, *, login: str, password: str
) -> httpx.Response:
    """From xkit's redirect, through the emulator's sign-in form (as a person would fill it),
    to xkit's callback."""
    assert response.status_code == 302, response.text
    with microsoft.client() as provider:
        page = provider.get(response.headers["location"])
        flow = re.search(r'name="flow" value="([^"]+)"', page.text)
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert flow and action, page.text
        back = provider.post(
            microsoft.base_url + action.group(1),
            data={"flow": flow.group(1), "login": login, "password": password, "action": "accept"},
        )
    assert back.status_code == 302, back.text
    return back_at_xkit(back.headers["location"], response)


def connected_to_oidc_provider(
    api: httpx.Client,
    server: XkitServer,
    platform: PlatformCredentials,
    oidc: OidcProvider,
    external_id: str,
    *,
    revoke_url: str | None = None,
) -> EndUser:
    """A Custom OAuth 2.0 connector ``acme-idp`` on panva's oidc-provider (which revokes
    grants, at ``revoke_url``: its own endpoint unless told), and ``external_id`` connected
    to it through the popup."""
    client = oidc.register_client(redirect_uris=[f"{server.url}/p/{platform.slug}/callback"])
    created = api.post("/api/platform/connectors", json={
        "provider": "oauth2", "slug": "acme-idp", "name": "Acme IdP",
        "client_id": client["client_id"], "client_secret": client["client_secret"],
        "scopes": ["openid", "offline_access", "email"],
        "settings": {"authorize_url": oidc.authorize_url, "token_url": oidc.token_url,
                     "userinfo_url": oidc.userinfo_url,
                     "revoke_url": revoke_url or oidc.revocation_url}})
    assert created.status_code == 201, created.text
    end_user = new_end_user(server, platform, external_id)
    _, to_provider = end_user.start_popup("acme-idp")
    callback = oidc.complete_authorization(to_provider.headers["location"], login=external_id)
    assert back_at_xkit(callback, to_provider).status_code == 200
    return end_user
