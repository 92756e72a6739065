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
    _refusing(microsoft("microsoft-excel", "organizations", ("User.Read", "Files.ReadWrite"),
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
    _refusing(google("google-meet", "https://www.googleapis.com/auth/meetings.space.created",
                     "spaces", "https://meet.googleapis.com/v2/spaces"),
              TokenError({"error": "unauthorized_client",
                          "error_description": "Unauthorized client or scope in request."},
                         says="isn't allowed to sign in with Google this way")),
    _refusing(google("google-chat", "https://www.googleapis.com/auth/chat.spaces.readonly",
                     "spaces", "https://chat.googleapis.com/v1/spaces"),
              GOOGLE_BAD_CODE),
    ProviderCase(
        slug="zoho-mail",
        authorize_url="https://accounts.zoho.com/oauth/v2/auth",
        token_url="https://accounts.zoho.com/oauth/v2/token",
        scopes=("ZohoMail.messages.READ",),
        scope_params={"scope": "ZohoMail.accounts.READ,ZohoMail.messages.READ"},
        authorize_params={"access_type": "offline", "prompt": "consent"},
        pkce=False, client_auth="client_secret_post",
        token_fields={"api_domain": "https://www.zohoapis.com", "token_type": "Bearer"},
        api_token=("Authorization", "Zoho-oauthtoken "),
        documents=(Document("https://mail.zoho.com/api/accounts", {
            "status": {"code": 200, "description": "success"},
            "data": [{"country": "us", "type": "ZOHO_ACCOUNT", "mailboxStatus": "enabled",
                      "incomingUserName": "ada@zylker.example",
                      "emailAddress": [{"isAlias": False, "isPrimary": True,
                                        "mailId": "ada@zylker.example", "isConfirmed": True}],
                      "accountId": "2560636000000008002", "displayName": "Ada"}]}),),
        account=("2560636000000008002", "ada@zylker.example"),
        extras={"api_domain": "https://www.zohoapis.com"},
        proxy=("accounts/2560636000000008002/messages/view",
               "https://mail.zoho.com/api/accounts/2560636000000008002/messages/view"),
        # Zoho answers a bad code with HTTP 200 and only an `error` field.
        token_error=TokenError({"error": "invalid_code"}, status=200,
                               says="expired or was already used"),
    ),
    ProviderCase(
        slug="cal-com",
        authorize_url="https://app.cal.com/auth/oauth2/authorize",
        token_url="https://api.cal.com/v2/auth/oauth2/token",
        scopes=("EVENT_TYPE_READ", "BOOKING_READ"),
        scope_params={"scope": "PROFILE_READ EVENT_TYPE_READ BOOKING_READ"},
        client_auth="client_secret_post",
        documents=(Document("https://api.cal.com/v2/me", {"status": "success", "data": {
            "id": 48213, "username": "ada", "email": "ada@example.com", "name": "Ada Lovelace",
            "timeZone": "Europe/London", "weekStart": "Monday", "timeFormat": 24,
            "defaultScheduleId": 1207, "locale": "en"}}),),
        account=("48213", "ada@example.com"),
        proxy=("bookings", "https://api.cal.com/v2/bookings"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "Invalid or expired authorization code"},
                               says="has expired or was revoked"),
    ),
    ProviderCase(
        slug="webex",
        authorize_url="https://webexapis.com/v1/authorize",
        token_url="https://webexapis.com/v1/access_token",
        scopes=("spark:kms", "spark:messages_read"),
        scope_params={"scope": "spark:people_read spark:kms spark:messages_read"},
        pkce=False, client_auth="client_secret_post", expires_in=1209599,
        token_fields={"refresh_token_expires_in": 7775999},
        documents=(Document("https://webexapis.com/v1/people/me", {
            "id": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdm",
            "emails": ["ada@example.com"], "displayName": "Ada Lovelace",
            "orgId": "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi85NmFiYzJhYS0zZGNjLTExZTUt"}),),
        account=("Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdm",
                 "ada@example.com"),
        proxy=("rooms", "https://webexapis.com/v1/rooms"),
        token_error=TokenError({"error": "invalid_client",
                                "error_description": "The client secret is invalid"},
                               status=401, says="client ID or secret is wrong"),
    ),
    ProviderCase(
        slug="egnyte",
        collect={"domain": "acme"},
        authorize_url="https://acme.egnyte.com/puboauth/token",
        token_url="https://acme.egnyte.com/puboauth/token",
        scopes=("Egnyte.filesystem",), scope_params={"scope": "Egnyte.filesystem"},
        pkce=False, client_auth="client_secret_post", refresh_token=False, expires_in=None,
        documents=(Document("https://acme.egnyte.com/pubapi/v1/userinfo", {
            "id": 1028, "username": "ada", "first_name": "Ada", "last_name": "Lovelace"}),),
        account=("1028", "ada"),
        proxy=("v1/fs/Shared", "https://acme.egnyte.com/pubapi/v1/fs/Shared"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "Authorization code is invalid"},
                               says="access was revoked"),
    ),
    ProviderCase(
        slug="dropbox-business",
        authorize_url="https://www.dropbox.com/oauth2/authorize",
        token_url="https://api.dropboxapi.com/oauth2/token",
        scopes=("members.read",), scope_params={"scope": "team_info.read members.read"},
        authorize_params={"token_access_type": "offline"}, expires_in=14400,
        token_fields={"team_id": "dbtid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I",
                      "scope": "team_info.read members.read"},
        documents=(Document("https://api.dropboxapi.com/2/team/get_info", {
            "name": "Acme, Inc.", "team_id": "dbtid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I",
            "num_licensed_users": 5, "num_provisioned_users": 2, "num_used_licenses": 1},
            method="POST"),),
        account=("dbtid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I", "Acme, Inc."),
        extras={"team_id": "dbtid:AAFdgehTzw7WlXhZJsbGCLePe8RvQGYDr-I"},
        proxy=("team/members/list_v2", "https://api.dropboxapi.com/2/team/members/list_v2"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "code doesn't exist or has expired"},
                               says="has expired or was revoked"),
    ),
    ProviderCase(
        slug="discord",
        authorize_url="https://discord.com/oauth2/authorize",
        token_url="https://discord.com/api/oauth2/token",
        scopes=("email", "guilds"), scope_params={"scope": "identify email guilds"},
        pkce=False, expires_in=604800, token_fields={"scope": "identify email guilds"},
        documents=(Document("https://discord.com/api/v10/users/@me", {
            "id": "80351110224678912", "username": "nelly", "global_name": "Nelly",
            "discriminator": "0", "email": "nelly@discord.example", "verified": True}),),
        account=("80351110224678912", "nelly@discord.example"),
        proxy=("users/@me/guilds", "https://discord.com/api/v10/users/@me/guilds"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": 'Invalid "code" in request.'},
                               says="has expired or was revoked"),
    ),
    ProviderCase(
        slug="zoom-team-chat",
        authorize_url="https://zoom.us/oauth/authorize", token_url="https://zoom.us/oauth/token",
        scopes=("user:read:user", "team_chat:read:list_user_channels"),
        scope_params={"scope": "user:read:user team_chat:read:list_user_channels"},
        token_fields={"scope": "user:read:user team_chat:read:list_user_channels",
                      "api_url": "https://api.zoom.us"},
        documents=(Document("https://api.zoom.us/v2/users/me", {
            "id": "KDcuGIm1QgePTO8WbOqwIQ", "email": "ada@example.test",
            "display_name": "Ada"}),),
        account=("KDcuGIm1QgePTO8WbOqwIQ", "ada@example.test"),
        proxy=("chat/users/me/channels", "https://api.zoom.us/v2/chat/users/me/channels"),
        token_error=TokenError({"reason": "Invalid authorization code", "error": "invalid_grant"},
                               says="has expired or was revoked"),
    ),
    ProviderCase(
        slug="gotomeeting",
        authorize_url="https://authentication.logmeininc.com/oauth/authorize",
        token_url="https://authentication.logmeininc.com/oauth/token",
        scopes=(), scope_params={}, pkce=False,
        token_fields={"principal": "mahar.singh@company.example", "scope": "collab:",
                      "account_key": "9000000000000000012", "organizer_key": "3600000000000000012"},
        account=("3600000000000000012", "mahar.singh@company.example"),
        extras={"organizer_key": "3600000000000000012", "account_key": "9000000000000000012"},
        proxy=("upcomingMeetings", "https://api.getgo.com/G2M/rest/upcomingMeetings"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "Invalid authorization code"},
                               says="has expired or was revoked"),
    ),
    ProviderCase(
        slug="acuity-scheduling",
        authorize_url="https://acuityscheduling.com/oauth2/authorize",
        token_url="https://acuityscheduling.com/oauth2/token",
        scopes=(), scope_params={"scope": "api-v1"}, pkce=False,
        client_auth="client_secret_post", refresh_token=False, expires_in=None,
        documents=(Document("https://acuityscheduling.com/api/v1/me", {
            "id": 1234567, "email": "ada@example.com", "name": "Ada's Studio",
            "timezone": "America/New_York", "currency": "USD"}),),
        account=("1234567", "ada@example.com"),
        proxy=("appointments", "https://acuityscheduling.com/api/v1/appointments"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "Authorization code doesn't exist or is "
                                                     "invalid for the client"},
                               says="expired or was already used"),
    ),
    ProviderCase(
        slug="ringcentral",
        authorize_url="https://platform.ringcentral.com/restapi/oauth/authorize",
        token_url="https://platform.ringcentral.com/restapi/oauth/token",
        scopes=(), scope_params={}, pkce=False, expires_in=3599,
        token_fields={"refresh_token_expires_in": 604799, "scope": "ReadAccounts CallLog SMS",
                      "owner_id": "1234567890"},
        documents=(Document(
            "https://platform.ringcentral.com/restapi/v1.0/account/~/extension/~", {
                "id": 1234567890, "extensionNumber": "101", "name": "Ada Lovelace",
                "contact": {"firstName": "Ada", "lastName": "Lovelace",
                            "email": "ada@example.com"}}),),
        account=("1234567890", "ada@example.com"), extras={"owner_id": "1234567890"},
        proxy=("account/~/call-log",
               "https://platform.ringcentral.com/restapi/v1.0/account/~/call-log"),
        token_error=TokenError({"error": "invalid_client",
                                "error_description": "Invalid client: client_id"},
                               status=401, says="client ID or secret is wrong"),
    ),
)
