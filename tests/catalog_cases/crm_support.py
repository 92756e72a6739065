"""Provider cases: CRM, sales and customer support.

Each case restates what its provider documents — endpoints, how the client authenticates, a
token answer, the account lookup's answer and one documented refusal — for the quirk emulator.
Ids and addresses are made up, shaped like the providers' own examples.
"""

from __future__ import annotations

from tests.provider_case import Document, ProviderCase, TokenError

ZOHO_API = "https://www.zohoapis.com"
DATAVERSE = "https://acme.crm.dynamics.com"

CASES: tuple[ProviderCase, ...] = (
    ProviderCase(
        slug="zoho-crm",
        authorize_url="https://accounts.zoho.com/oauth/v2/auth",
        token_url="https://accounts.zoho.com/oauth/v2/token",
        scopes=("ZohoCRM.modules.ALL", "ZohoCRM.settings.READ"),
        scope_params={"scope": "ZohoCRM.users.READ,ZohoCRM.modules.ALL,ZohoCRM.settings.READ"},
        authorize_params={"access_type": "offline", "prompt": "consent"},
        pkce=False, client_auth="client_secret_post",
        callback_params={"location": "us", "accounts-server": "https://accounts.zoho.com"},
        token_fields={"api_domain": ZOHO_API, "token_type": "Bearer"},
        documents=(Document(f"{ZOHO_API}/crm/v7/users", {"users": [{
            "id": "4150868000000225013", "full_name": "Patricia Boyle",
            "email": "patricia.b@zylker.test", "status": "active",
            "role": {"name": "CEO", "id": "4150868000000026005"}}],
            "info": {"per_page": 200, "count": 1, "page": 1, "more_records": False}}),),
        account=("4150868000000225013", "patricia.b@zylker.test"),
        extras={"api_domain": ZOHO_API, "location": "us",
                "accounts_server": "https://accounts.zoho.com"},
        proxy=("Leads", f"{ZOHO_API}/crm/v7/Leads"),
        token_error=TokenError(json={"error": "invalid_code"}, status=200,
                               says="expired or was already used"),
    ),
    ProviderCase(
        slug="close",
        authorize_url="https://app.close.com/oauth2/authorize/",
        token_url="https://api.close.com/oauth2/token/",
        scopes=(), scope_params={}, pkce=False, client_auth="client_secret_post",
        token_fields={"token_type": "Bearer", "scope": "all.full_access offline_access",
                      "user_id": "user_MvDoTM0YtHxVsQJYrmhX2M6VsuVvpTg1Q5iV5XxSB2k",
                      "organization_id": "orga_bwwWG475zqWiQGur0thQshwVXo8rIYecQHDWFanqhen"},
        documents=(Document("https://api.close.com/api/v1/me/", {
            "id": "user_MvDoTM0YtHxVsQJYrmhX2M6VsuVvpTg1Q5iV5XxSB2k",
            "email": "ada@acme.test", "first_name": "Ada", "last_name": "Lovelace"}),),
        account=("user_MvDoTM0YtHxVsQJYrmhX2M6VsuVvpTg1Q5iV5XxSB2k", "ada@acme.test"),
        proxy=("lead/", "https://api.close.com/api/v1/lead/"),
        token_error=TokenError(json={"error": "invalid_grant"}, says="expired or was already used"),
    ),
    ProviderCase(
        slug="attio",
        authorize_url="https://app.attio.com/authorize",
        token_url="https://app.attio.com/oauth/token",
        scopes=(), scope_params={}, pkce=False, client_auth="client_secret_post",
        refresh_token=False, expires_in=None, token_fields={"token_type": "Bearer"},
        documents=(Document("https://api.attio.com/v2/self", {
            "active": True, "scope": "record_permission:read object_configuration:read",
            "client_id": "a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "token_type": "Bearer",
            "exp": None, "iat": 1733400000, "sub": "14beef7a-99f7-4534-a87e-70b564330a4c",
            "aud": "a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "iss": "attio.com",
            "authorized_by_workspace_member_id": "50cf242c-7fa3-4cad-87d0-75b1af71c57b",
            "workspace_id": "14beef7a-99f7-4534-a87e-70b564330a4c",
            "workspace_name": "Acme Corp", "workspace_slug": "acme-corp",
            "workspace_logo_url": None}),),
        account=("14beef7a-99f7-4534-a87e-70b564330a4c", "Acme Corp"),
        extras={"workspace_slug": "acme-corp"},
        proxy=("objects", "https://api.attio.com/v2/objects"),
        token_error=TokenError(json={"error": "invalid_client"}, status=401,
                               says="client ID or secret is wrong"),
    ),
    ProviderCase(
        slug="dynamics-365",
        settings={"environment_host": "acme.crm.dynamics.com"},
        authorize_url="https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize",
        token_url="https://login.microsoftonline.com/organizations/oauth2/v2.0/token",
        scopes=(f"{DATAVERSE}/user_impersonation",),
        scope_params={"scope": f"offline_access openid profile {DATAVERSE}/user_impersonation"},
        authorize_params={"response_mode": "query"}, client_auth="client_secret_post",
        expires_in=3599,
        id_token_claims={"oid": "00000000-0000-0000-66f3-3332eca7ea81",
                         "tid": "9122040d-6c67-4c5b-b112-36a304b66dad",
                         "preferred_username": "megan@contoso.test", "name": "Megan Bowen"},
        documents=(Document(f"{DATAVERSE}/api/data/v9.2/WhoAmI", {
            "@odata.context":
                f"{DATAVERSE}/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
            "BusinessUnitId": "6f202e6c-e471-ec11-8941-000d3a337a1e",
            "UserId": "88057198-a9b1-ec11-9840-00224829b9e0",
            "OrganizationId": "e34c95a5-f34c-430c-a05e-a23437e5b9fa"}),),
        account=("00000000-0000-0000-66f3-3332eca7ea81", "megan@contoso.test"),
        extras={"user_id": "88057198-a9b1-ec11-9840-00224829b9e0",
                "organization_id": "e34c95a5-f34c-430c-a05e-a23437e5b9fa"},
        proxy=("accounts", f"{DATAVERSE}/api/data/v9.2/accounts"),
        proxy_headers={"odata-version": "4.0"},
        token_error=TokenError(json={
            "error": "invalid_grant",
            "error_description": "AADSTS70008: The provided authorization code or refresh token "
                                 "has expired due to inactivity.",
            "error_codes": [70008], "timestamp": "2026-12-05 21:00:00Z",
            "trace_id": "0000aaaa-11bb-cccc-dd22-eeeeee333333",
            "correlation_id": "aaaa0000-bb11-2222-33cc-444444dddddd"},
            says="expired or was revoked"),
    ),
    ProviderCase(
        slug="help-scout",
        authorize_url="https://secure.helpscout.net/authentication/authorizeClientApplication",
        token_url="https://api.helpscout.net/v2/oauth2/token",
        scopes=(), scope_params={}, pkce=False, client_auth="client_secret_post",
        expires_in=172800, token_fields={"token_type": "bearer"},
        documents=(Document("https://api.helpscout.net/v2/users/me", {
            "id": 4, "firstName": "Ada", "lastName": "Lovelace", "email": "ada@acme.test",
            "role": "owner", "timezone": "Europe/London", "type": "user"}),),
        account=("4", "ada@acme.test"),
        proxy=("conversations", "https://api.helpscout.net/v2/conversations"),
        token_error=TokenError(json={"error": "invalid_client",
                                     "error_description": "Bad client credentials"},
                               status=401, says="App ID or App Secret is wrong"),
    ),
    ProviderCase(
        slug="front",
        authorize_url="https://app.frontapp.com/oauth/authorize",
        token_url="https://app.frontapp.com/oauth/token",
        scopes=(), scope_params={}, pkce=False, expires_in=None,
        token_fields={"token_type": "Bearer", "expires_at": 1764975600000},
        documents=(Document("https://api2.frontapp.com/me", {
            "_links": {"self": "https://api2.frontapp.com/me"},
            "name": "Acme Support", "id": "cmp_55c8c149"}),),
        account=("cmp_55c8c149", "Acme Support"),
        proxy=("conversations", "https://api2.frontapp.com/conversations"),
        token_error=TokenError(json={"error": "invalid_grant"}, says="expired or was already used"),
    ),
    ProviderCase(
        slug="servicenow",
        settings={"instance": "acme"},
        authorize_url="https://acme.service-now.com/oauth_auth.do",
        token_url="https://acme.service-now.com/oauth_token.do",
        scopes=("useraccount",), scope_params={"scope": "useraccount"},
        pkce=False, client_auth="client_secret_post", expires_in=1799,
        token_fields={"scope": "useraccount", "token_type": "Bearer"},
        documents=(Document("https://acme.service-now.com/api/now/table/sys_user", {
            "result": [{"sys_id": "6816f79cc0a8016401c5a33be04be441",
                        "user_name": "admin", "email": "admin@acme.test"}]}),),
        account=("6816f79cc0a8016401c5a33be04be441", "admin@acme.test"),
        proxy=("now/table/incident", "https://acme.service-now.com/api/now/table/incident"),
        token_error=TokenError(json={"error": "invalid_grant"}, says="expired or was revoked"),
    ),
    ProviderCase(
        slug="gorgias",
        collect={"subdomain": "acme"},
        authorize_url="https://acme.gorgias.com/oauth/authorize",
        token_url="https://acme.gorgias.com/oauth/token",
        scopes=("tickets:read",), scope_params={"scope": "openid email offline tickets:read"},
        pkce=False, expires_in=86400,
        token_fields={"token_type": "Bearer", "scope": "openid email offline tickets:read"},
        id_token_claims={"sub": "3", "email": "ada@acme.test", "iss": "https://acme.gorgias.com"},
        account=("3", "ada@acme.test"),
        proxy=("tickets", "https://acme.gorgias.com/api/tickets"),
        token_error=TokenError(json={"error": "invalid_grant",
                                     "error_description": "The provided authorization grant "
                                                          "is invalid or expired."},
                               says="expired or was already used"),
    ),
)
