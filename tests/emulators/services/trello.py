"""Trello's REST API, the part xkit's Trello template touches: ``GET /1/members/me`` and
``GET /1/members/me/boards``.

From "Authorizing With Trello's REST API" (developer.atlassian.com/cloud/trello/guides/
rest-api/authorization/): every request carries the app's API key and a user token, either
as ``key`` and ``token`` query parameters or in an ``Authorization: OAuth
oauth_consumer_key="...", oauth_token="..."`` header. Without a valid key Trello answers
``401 invalid key``; with a valid key but a bad token, ``401 invalid token`` (plain text).
"""

from __future__ import annotations

import hmac
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .state import ServicesState, TrelloMember

_OAUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


def _credentials(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.startswith("OAuth "):
        params = dict(_OAUTH_PARAM.findall(header))
        return params.get("oauth_consumer_key", ""), params.get("oauth_token", "")
    return request.query_params.get("key", ""), request.query_params.get("token", "")


def _member(request: Request) -> TrelloMember | Response:
    state: ServicesState = request.app.state.services
    key, token = _credentials(request)
    keyed = [m for m in state.trello.values() if hmac.compare_digest(m.api_key, key)]
    if not key or not keyed:
        return PlainTextResponse("invalid key", status_code=401)
    for member in keyed:
        if token and hmac.compare_digest(member.api_token, token):
            return member
    return PlainTextResponse("invalid token", status_code=401)


async def members_me(request: Request) -> Response:
    member = _member(request)
    return member if isinstance(member, Response) else JSONResponse(member.profile())


async def my_boards(request: Request) -> Response:
    member = _member(request)
    return member if isinstance(member, Response) else JSONResponse(member.boards)


routes = [
    Route("/1/members/me", members_me, methods=["GET"]),
    Route("/1/members/me/boards", my_boards, methods=["GET"]),
]
