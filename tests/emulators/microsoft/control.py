"""The control API under ``/_emulator/``: how a test in another process sets up and inspects.

Everything is JSON. Bad input is a 400 ``{"error": "..."}``, an unknown id a 404. None of this
exists at Microsoft; it stands in for the Azure portal (apps, users) and for the weather
(faults, revocations, the clock).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .admin_consent import revoke_admin_consent
from .state import EmulatorState, InvalidInput

Endpoint = Callable[[Request, EmulatorState], Awaitable[Any]]


def _endpoint(handler: Endpoint, status: int = 200) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        state: EmulatorState = request.app.state.emulator
        try:
            result = await handler(request, state)
        except (InvalidInput, ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except KeyError as exc:
            return JSONResponse({"error": f"not found: {exc.args[0]}"}, status_code=404)
        return JSONResponse(result, status_code=status)

    return run


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        payload = await request.json()
    except ValueError as exc:
        raise InvalidInput("the body must be JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidInput("the body must be a JSON object")
    return payload


async def health(request: Request, state: EmulatorState) -> dict[str, Any]:
    return {"ok": True}


async def reset(request: Request, state: EmulatorState) -> dict[str, Any]:
    state.reset()
    return {"ok": True}


async def seed(request: Request, state: EmulatorState) -> dict[str, Any]:
    state.load_seed(await _json(request))
    return {"ok": True}


async def get_settings(request: Request, state: EmulatorState) -> dict[str, Any]:
    return asdict(state.settings)


async def patch_settings(request: Request, state: EmulatorState) -> dict[str, Any]:
    return asdict(state.update_settings(await _json(request)))


async def advance_clock(request: Request, state: EmulatorState) -> dict[str, Any]:
    """Move the emulator's clock forward, e.g. past an authorization code's 10 minutes."""
    seconds = (await _json(request)).get("seconds")
    if not isinstance(seconds, int | float) or seconds < 0:
        raise InvalidInput("seconds must be a non-negative number")
    state.clock_offset += float(seconds)
    return {"clock_offset": state.clock_offset}


async def add_tenant(request: Request, state: EmulatorState) -> dict[str, Any]:
    return asdict(state.add_tenant(await _json(request)))


async def add_app(request: Request, state: EmulatorState) -> dict[str, Any]:
    return state.add_app(await _json(request)).public_view()


async def get_app(request: Request, state: EmulatorState) -> dict[str, Any]:
    return state.apps[request.path_params["client_id"]].public_view()


async def patch_app(request: Request, state: EmulatorState) -> dict[str, Any]:
    payload = await _json(request)
    return state.update_app(request.path_params["client_id"], payload).public_view()


async def add_user(request: Request, state: EmulatorState) -> dict[str, Any]:
    return state.add_user(await _json(request)).public_view()


async def get_user(request: Request, state: EmulatorState) -> dict[str, Any]:
    user = state.users[request.path_params["user_id"]]
    view = user.public_view()
    view["consents"] = {
        client_id: sorted(granted)
        for (user_id, client_id), granted in state.consents.items()
        if user_id == user.id
    }
    return view


async def add_message(request: Request, state: EmulatorState) -> dict[str, Any]:
    return state.add_message(request.path_params["user_id"], await _json(request))


async def expire_delta_tokens(request: Request, state: EmulatorState) -> dict[str, Any]:
    return {"expired": state.expire_delta_tokens()}


async def revoke_refresh_tokens(request: Request, state: EmulatorState) -> dict[str, Any]:
    """Like Graph's ``revokeSignInSessions`` or an admin revocation: every refresh token the
    user holds (for one app, with ``client_id``) fails with ``invalid_grant`` and the chosen
    AADSTS code: 70008 (default), 50173 (revoked grant) or 700082 (inactivity)."""
    user_id = request.path_params["user_id"]
    if user_id not in state.users:
        raise KeyError(user_id)
    payload = await _json(request)
    revoked = state.revoke_user_refresh_tokens(
        user_id, int(payload.get("error_code", 70008)), payload.get("client_id")
    )
    return {"revoked": revoked}


async def revoke_consent(request: Request, state: EmulatorState) -> dict[str, Any]:
    """An admin removing the app from the tenant: its client credentials grant stops."""
    payload = await _json(request)
    return {"revoked": revoke_admin_consent(state, str(payload["tenant_id"]),
                                            str(payload["client_id"]))}


async def expire_access_tokens(request: Request, state: EmulatorState) -> dict[str, Any]:
    return {"expired": state.expire_access_tokens((await _json(request)).get("user_id"))}


async def add_fault(request: Request, state: EmulatorState) -> dict[str, Any]:
    return asdict(state.add_fault(await _json(request)))


async def list_faults(request: Request, state: EmulatorState) -> list[dict[str, Any]]:
    return [asdict(fault) for fault in state.faults]


async def clear_faults(request: Request, state: EmulatorState) -> dict[str, Any]:
    state.faults.clear()
    return {"ok": True}


async def counters(request: Request, state: EmulatorState) -> dict[str, Any]:
    return state.counters_view()


async def requests_log(request: Request, state: EmulatorState) -> list[dict[str, Any]]:
    prefix = request.query_params.get("path_prefix", "")
    return [entry for entry in state.request_log if entry["path"].startswith(prefix)]


async def clear_requests_log(request: Request, state: EmulatorState) -> dict[str, Any]:
    state.request_log.clear()
    return {"ok": True}


async def sent_mail(request: Request, state: EmulatorState) -> list[dict[str, Any]]:
    user_id = request.query_params.get("user_id")
    return [m for m in state.sent_mail if user_id in (None, m["user_id"])]


routes = [
    Route("/_emulator/delta-tokens/expire", _endpoint(expire_delta_tokens), methods=["POST"]),
    Route("/_emulator/health", _endpoint(health), methods=["GET"]),
    Route("/_emulator/reset", _endpoint(reset), methods=["POST"]),
    Route("/_emulator/seed", _endpoint(seed), methods=["POST"]),
    Route("/_emulator/settings", _endpoint(get_settings), methods=["GET"]),
    Route("/_emulator/settings", _endpoint(patch_settings), methods=["PATCH"]),
    Route("/_emulator/clock/advance", _endpoint(advance_clock), methods=["POST"]),
    Route("/_emulator/tenants", _endpoint(add_tenant, 201), methods=["POST"]),
    Route("/_emulator/apps", _endpoint(add_app, 201), methods=["POST"]),
    Route("/_emulator/apps/{client_id}", _endpoint(get_app), methods=["GET"]),
    Route("/_emulator/apps/{client_id}", _endpoint(patch_app), methods=["PATCH"]),
    Route("/_emulator/users", _endpoint(add_user, 201), methods=["POST"]),
    Route("/_emulator/users/{user_id}", _endpoint(get_user), methods=["GET"]),
    Route("/_emulator/users/{user_id}/messages", _endpoint(add_message, 201), methods=["POST"]),
    Route(
        "/_emulator/users/{user_id}/revoke-refresh-tokens",
        _endpoint(revoke_refresh_tokens),
        methods=["POST"],
    ),
    Route("/_emulator/access-tokens/expire", _endpoint(expire_access_tokens), methods=["POST"]),
    Route("/_emulator/admin-consents/revoke", _endpoint(revoke_consent), methods=["POST"]),
    Route("/_emulator/faults", _endpoint(add_fault, 201), methods=["POST"]),
    Route("/_emulator/faults", _endpoint(list_faults), methods=["GET"]),
    Route("/_emulator/faults", _endpoint(clear_faults), methods=["DELETE"]),
    Route("/_emulator/counters", _endpoint(counters), methods=["GET"]),
    Route("/_emulator/requests", _endpoint(requests_log), methods=["GET"]),
    Route("/_emulator/requests", _endpoint(clear_requests_log), methods=["DELETE"]),
    Route("/_emulator/sent-mail", _endpoint(sent_mail), methods=["GET"]),
]
