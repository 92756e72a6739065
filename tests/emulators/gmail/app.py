"""``create_app()``: one app answering as accounts.google.com, oauth2.googleapis.com and
gmail.googleapis.com — their paths don't collide, and xkit reaches all three on one port."""

from __future__ import annotations

from starlette.applications import Starlette

from . import api, control, oauth
from .state import GmailState


def create_app(state: GmailState | None = None) -> Starlette:
    app = Starlette(routes=[*control.routes, *oauth.routes, *api.routes])
    app.state.gmail = state or GmailState()
    return app
