"""The two error shapes clients must parse: the identity platform's and Microsoft Graph's.

Identity platform (token endpoint), per "Microsoft Entra authentication and authorization error
codes" (https://learn.microsoft.com/entra/identity-platform/reference-error-codes) and the auth
code flow page (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow):
``{"error", "error_description": "AADSTSnnn: ...\\r\\nTrace ID: ...", "error_codes": [nnn],
"timestamp", "trace_id", "correlation_id", "error_uri"}``.

Microsoft Graph, per "Microsoft Graph error responses and resource types"
(https://learn.microsoft.com/graph/errors): ``{"error": {"code", "message", "innerError":
{"date", "request-id", "client-request-id"}}}``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from starlette.responses import JSONResponse

# Messages in our own words, close enough to Microsoft's that a human reading a log recognises
# them. Clients must branch on ``error`` and ``error_codes`` only, as Microsoft asks.
AADSTS_MESSAGES: dict[int, str] = {
    50000: "There was an error issuing a token; the sign-in service had a problem.",
    50011: "The redirect URI '{redirect_uri}' specified in the request does not match the "
    "redirect URIs configured for the application '{client_id}'.",
    50020: "User account '{account}' from identity provider does not exist in tenant "
    "'{tenant}' and cannot access the application '{client_id}' in that tenant.",
    50034: "The user account '{account}' does not exist in the directory.",
    50058: "A silent sign-in request was sent but no user is signed in.",
    50126: "Error validating credentials due to invalid username or password.",
    50173: "The provided grant has expired due to it being revoked, a fresh auth token is "
    "needed. Either an admin or a user revoked the tokens for this user.",
    50194: "Application '{client_id}' is not configured as a multi-tenant application. Usage "
    "of the /{segment} endpoint is not supported for such applications.",
    54005: "OAuth2 Authorization code was already redeemed, please retry with a new valid code "
    "or use an existing refresh token.",
    65001: "The user or administrator has not consented to use the application with ID "
    "'{client_id}'. Send an interactive authorization request for this user and resource.",
    65004: "User declined to consent to access the app.",
    70000: "The provided value for the '{parameter}' parameter is not valid: it was issued to "
    "another application.",
    70003: "The app requested an unsupported grant type '{grant_type}'.",
    70005: "response_type '{response_type}' is not supported by the emulator; use 'code'.",
    70007: "The app requested an unsupported response_mode '{response_mode}'.",
    70008: "The provided authorization code or refresh token has expired due to inactivity. "
    "Send a new interactive authorization request for this user and resource.",
    90019: "Microsoft Entra ID was unable to determine the tenant identifier from the request.",
    90094: "Administrator consent is required: an administrator of the organization must "
    "approve this application.",
    90130: "The application isn't supported over the /common or /consumers endpoints. Use the "
    "/organizations or tenant-specific endpoint.",
    500011: "The resource principal named {resource} was not found in the tenant named "
    "{tenant}.",
    1002012: "The provided value for scope {scope} is not valid. Client credential flows must "
    "have a scope value with /.default suffixed to the resource identifier (application ID "
    "URI).",
    9001023: "The grant type isn't supported over the /common or /consumers endpoints. Please "
    "use the /organizations or tenant-specific endpoint.",
    90002: "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
    "are signing into the correct cloud.",
    90006: "The service is temporarily unavailable.",
    90013: "The input from the user is not valid: {detail}",
    90023: "The authentication service request is not valid: {detail}",
    90055: "There are too many incoming requests. Please retry later.",
    500112: "The reply address '{redirect_uri}' does not match the reply address "
    "'{expected}' provided when requesting the authorization code.",
    501481: "The Code_Verifier does not match the code_challenge supplied in the authorization "
    "request.",
    501491: "Invalid size of Code_Challenge parameter.",
    700005: "Provided Authorization Code is intended to use against other tenant, thus rejected.",
    700016: "Application with identifier '{client_id}' was not found in the directory "
    "'{tenant}'. This can happen if the application has not been installed by the "
    "administrator of the tenant or consented to by any user in the tenant.",
    700025: "Client is public so neither 'client_assertion' nor 'client_secret' should be "
    "presented.",
    700082: "The refresh token has expired due to inactivity. The token was issued on "
    "{issued} and was inactive for 90.00:00:00.",
    900144: "The request body must contain the following parameter: '{parameter}'.",
    900971: "No reply address provided.",
    7000215: "Invalid client secret provided. Ensure the secret being sent in the request is "
    "the client secret value, not the client secret ID, for a secret added to app "
    "'{client_id}'.",
    7000218: "The request body must contain the following parameter: 'client_assertion' or "
    "'client_secret'.",
    9002313: "Invalid request. Request is malformed or invalid.",
    9002331: "Application '{client_id}' is configured for use by Microsoft Account users only. "
    "Please use the /consumers endpoint to serve this request.",
    9002332: "Application '{client_id}' is configured for use by Microsoft Entra users only. "
    "Please do not use the /consumers endpoint to serve this request.",
}

# Codes a refresh token may be revoked with through the control API.
REVOCATION_CODES = (70008, 50173, 700082)


def timestamp(now: dt.datetime | None = None) -> str:
    """Microsoft's error timestamp format, e.g. ``2016-01-09 02:02:12Z``."""
    return (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M:%SZ")


def aadsts(code: int, **values: Any) -> str:
    """``AADSTSnnn: message`` with the placeholders filled in."""
    template = AADSTS_MESSAGES.get(code, "Error {code}.")
    try:
        message = template.format(code=code, **values)
    except KeyError:
        message = template
    return f"AADSTS{code}: {message}"


class IdentityError(Exception):
    """An error the token or authorize endpoint reports in the identity platform's shape."""

    def __init__(self, error: str, code: int, status: int = 400, **values: Any) -> None:
        self.error = error
        self.code = code
        self.status = status
        self.description = aadsts(code, **values)
        super().__init__(self.description)


def identity_error_response(
    exc: IdentityError, *, login_host: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The token endpoint's JSON error body, with trace and correlation ids like Microsoft's."""
    trace_id = str(uuid.uuid4())
    correlation_id = str(uuid.uuid4())
    when = timestamp()
    body = {
        "error": exc.error,
        "error_description": (
            f"{exc.description}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}"
            f"\r\nTimestamp: {when}"
        ),
        "error_codes": [exc.code],
        "timestamp": when,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://{login_host}/error?code={exc.code}",
    }
    return JSONResponse(body, status_code=exc.status, headers=headers)


def graph_error_response(
    status: int,
    code: str,
    message: str,
    *,
    client_request_id: str | None = None,
    headers: dict[str, str] | None = None,
    inner: dict[str, Any] | None = None,
) -> JSONResponse:
    """Graph's ``{"error": {"code", "message", "innerError"}}`` body with its request ids."""
    request_id = str(uuid.uuid4())
    inner_error: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_request_id or request_id,
    }
    inner_error.update(inner or {})
    all_headers = {"request-id": request_id, "client-request-id": client_request_id or request_id}
    all_headers.update(headers or {})
    return JSONResponse(
        {"error": {"code": code, "message": message, "innerError": inner_error}},
        status_code=status,
        headers=all_headers,
    )
