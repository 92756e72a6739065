"""The control API under ``/_emulator/``: tests register the credentials each provider would
know (Trello members, Stripe accounts, service accounts and the domains that delegated to
them) and read the request log. It stands in for those providers' consoles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .state import Delegation, ServiceAccount, ServicesState, StripeAccount, TrelloMember, new_token

Handler = Callable[[ServicesState, dict[str, Any]], Any]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        state: ServicesState = request.app.state.services
        body = await request.json() if await request.body() else {}
        try:
            return JSONResponse(handler(state, body))
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"bad control request: {exc!r}"}, status_code=400)
    return run


def _reset(state: ServicesState, body: dict[str, Any]) -> dict[str, Any]:
    state.reset()
    return {"ok": True}


def _trello_member(state: ServicesState, body: dict[str, Any]) -> dict[str, Any]:
    member = TrelloMember(id=body.get("id") or new_token()[:24], username=body["username"],
                          full_name=body.get("full_name", body["username"]),
                          api_key=body["api_key"], api_token=body["api_token"],
                          boards=list(body.get("boards", [])))
    state.trello[member.id] = member
    return member.profile()


def _stripe_account(state: ServicesState, body: dict[str, Any]) -> dict[str, Any]:
    account = StripeAccount(id=body.get("id") or f"acct_{new_token()[:16]}",
                            email=body["email"], display_name=body["display_name"],
                            secret_key=body["secret_key"],
                            customers=list(body.get("customers", [])))
    state.stripe[account.id] = account
    return account.account()


def _service_account(state: ServicesState, body: dict[str, Any]) -> dict[str, Any]:
    email = body["client_email"]
    account = state.service_accounts.get(email) or ServiceAccount(
        client_email=email, client_id=str(body["client_id"]), public_keys={})
    account.public_keys[body["key_id"]] = body["public_key_pem"]
    state.service_accounts[email] = account
    return {"client_email": email, "keys": sorted(account.public_keys)}


def _delegation(state: ServicesState, body: dict[str, Any]) -> dict[str, Any]:
    state.delegations.append(Delegation(domain=body["domain"].lower(),
                                        client_id=str(body["client_id"]),
                                        scopes=set(body["scopes"])))
    return {"ok": True}


def _workspace_user(state: ServicesState, body: dict[str, Any]) -> dict[str, Any]:
    state.workspace_users[body["email"].lower()] = list(body.get("events", []))
    return {"email": body["email"].lower()}


def _requests(state: ServicesState, body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(state.request_log)


routes = [
    Route("/_emulator/health", _endpoint(lambda state, body: {"ok": True}), methods=["GET"]),
    Route("/_emulator/reset", _endpoint(_reset), methods=["POST"]),
    Route("/_emulator/trello/members", _endpoint(_trello_member), methods=["POST"]),
    Route("/_emulator/stripe/accounts", _endpoint(_stripe_account), methods=["POST"]),
    Route("/_emulator/google/service-accounts", _endpoint(_service_account), methods=["POST"]),
    Route("/_emulator/google/delegations", _endpoint(_delegation), methods=["POST"]),
    Route("/_emulator/google/users", _endpoint(_workspace_user), methods=["POST"]),
    Route("/_emulator/requests", _endpoint(_requests), methods=["GET"]),
]
