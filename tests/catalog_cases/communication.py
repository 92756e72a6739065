"""Provider cases: email, calendars, meetings, chat and files."""

from __future__ import annotations

import dataclasses

from tests.provider_case import Document, ProviderCase, TokenError, google, microsoft

GRAPH = "https://graph.microsoft.com/v1.0"


def _refusing(case: ProviderCase, refusal: TokenError) -> ProviderCase:
    return dataclasses.replace(case, token_error=refusal)


# Microsoft: the identity platform answers a bad code with a generic `error` and an AADSTS code
# in error_description (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
def _aadsts(code: int, error: str, words: str) -> dict[str, object]:
    return {"error": error, "error_description": f"AADSTS{code}: {words}\r\nTrace ID: "
            "0b4e7c2e-1b7a-4a8e-9d0c-6f1f2b3c4d5e\r\nTimestamp: 2026-12-05 21:40:02Z",
            "error_codes": [code], "timestamp": "2026-12-05 21:40:02Z",
            "trace_id": "0b4e7c2e-1b7a-4a8e-9d0c-6f1f2b3c4d5e",
            "correlation_id": "5d3c2b1a-0f9e-4d8c-b7a6-e5d4c3b2a190"}


# Google: a refused code exchange is RFC 6749's shape
# (https://developers.google.com/identity/protocols/oauth2/web-server#exchange-authorization-code).
GOOGLE_BAD_CODE = TokenError({"error": "invalid_grant", "error_description": "Bad Request"},
                             says="has expired or was revoked")

CASES: tuple[ProviderCase, ...] = (
    _refusing(microsoft("microsoft-bookings", "organizations", ("User.Read", "Bookings.Read.All"),
                        ("solutions/bookingBusinesses", f"{GRAPH}/solutions/bookingBusinesses")),
              TokenError(_aadsts(90094, "invalid_grant", "The grant requires admin permission."),
                         says="requires an administrator to approve this app")),
    _refusing(microsoft("sharepoint", "organizations", ("User.Read", "Sites.Read.All"),
                        ("sites/root", f"{GRAPH}/sites/root")),
              TokenError(_aadsts(9002332, "invalid_request",
                                 "Application is configured for use by Azure Active Directory "
                                 "users only."),
                         says="only accepts work or school accounts")),
    _refusing(microsoft("outlook-contacts", "common", ("User.Read", "Contacts.Read"),
                        ("me/contacts", f"{GRAPH}/me/contacts")),
              TokenError(_aadsts(54005, "invalid_grant",
                                 "OAuth2 Authorization code was already redeemed."),
                         says="already used")),
    _refusing(microsoft("microsoft-todo", "common", ("User.Read", "Tasks.ReadWrite"),
                        ("me/todo/lists", f"{GRAPH}/me/todo/lists")),
              TokenError(_aadsts(70008, "invalid_grant",
                                 "The provided authorization code or refresh token has expired "
                                 "due to inactivity."),
                         says="sign-in has expired or was revoked")),
    _refusing(microsoft("onenote", "common", ("User.Read", "Notes.Read"),
                        ("me/onenote/notebooks", f"{GRAPH}/me/onenote/notebooks")),
              TokenError(_aadsts(7000222, "invalid_client",
                                 "The provided client secret keys for app are expired.",),
                         status=401, says="client secret has expired")),
    _refusing(microsoft("microsoft-excel", "common", ("User.Read", "Files.ReadWrite"),
                        ("me/drive/items/01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K/workbook/worksheets",
                         f"{GRAPH}/me/drive/items/01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K/workbook/"
                         "worksheets")),
              TokenError(_aadsts(7000215, "invalid_client", "Invalid client secret provided."),
                         status=401, says="paste the secret's Value")),
    _refusing(google("google-contacts", "https://www.googleapis.com/auth/contacts.readonly",
                     "people/me/connections",
                     "https://people.googleapis.com/v1/people/me/connections"),
              GOOGLE_BAD_CODE),
    _refusing(google("google-tasks", "https://www.googleapis.com/auth/tasks",
                     "lists/MTAxNzk5/tasks",
                     "https://tasks.googleapis.com/tasks/v1/lists/MTAxNzk5/tasks"),
              TokenError({"error": "invalid_client", "error_description": "Unauthorized"},
                         status=401, says="check its client ID and secret")),
    _refusing(google("google-docs", "https://www.googleapis.com/auth/documents.readonly",
                     "documents/195j9eDD3ccgjQRttHhJPymLJUCOUjs-jmwTrekvdjFE",
                     "https://docs.googleapis.com/v1/documents/"
                     "195j9eDD3ccgjQRttHhJPymLJUCOUjs-jmwTrekvdjFE"),
              GOOGLE_BAD_CODE),
    _refusing(google("google-slides", "https://www.googleapis.com/auth/presentations.readonly",
                     "presentations/1EAYk18WDjIG-zp_0vLm3CsfQh_i8eXc67Jo2O9C6Vuc",
                     "https://slides.googleapis.com/v1/presentations/"
                     "1EAYk18WDjIG-zp_0vLm3CsfQh_i8eXc67Jo2O9C6Vuc"),
              TokenError({"error": "redirect_uri_mismatch", "error_description": "Bad Request"},
                         says="callback URL isn't registered with Google")),
    _refusing(google("youtube", "https://www.googleapis.com/auth/youtube.readonly", "channels",
                     "https://www.googleapis.com/youtube/v3/channels"),
              GOOGLE_BAD_CODE),
)
