"""Provider cases: developer tools and project management.

Each case restates what the provider documents — endpoints, client authentication, the token
answer, the account lookup and one of its refusals — independently of the template, so the
quirk emulator can play that provider and a template that misreads it fails.
"""

from __future__ import annotations

from tests.provider_case import Document, ProviderCase, TokenError

ATLASSIAN_ME = {"account_type": "atlassian",
                "account_id": "712020:4b5c8a1e-6d8f-4a44-9a3e-0f1c2d3e4f50",
                "email": "ada@acme.test", "name": "Ada Lovelace", "account_status": "active"}
CONFLUENCE_SITE = {"id": "a6b2c8d1-3e4f-4a5b-9c6d-7e8f9a0b1c2d",
                   "url": "https://acme.atlassian.net", "name": "acme",
                   "scopes": ["read:confluence-content.all"],
                   "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/a.png"}
WRIKE_ME = {"kind": "contacts", "data": [{
    "id": "KUAFY3BJ", "firstName": "Ada", "lastName": "Lovelace", "type": "Person",
    "profiles": [{"accountId": "IEAGIITR", "email": "ada@acme.test", "role": "User",
                  "external": False, "admin": False, "owner": True}],
    "avatarUrl": "https://www.wrike.com/avatars/KUAFY3BJ.png", "timezone": "Europe/London",
    "locale": "en", "deleted": False, "me": True}]}

CASES: tuple[ProviderCase, ...] = (
    ProviderCase(
        slug="sentry",
        authorize_url="https://sentry.io/oauth/authorize/",
        token_url="https://sentry.io/oauth/token/",
        scopes=("project:read", "event:read"),
        scope_params={"scope": "org:read project:read event:read"},
        client_auth="client_secret_post", expires_in=2591999,
        token_fields={"expires_at": "2026-12-31T23:20:21.054320Z",
                      "scope": "org:read project:read event:read",
                      "user": {"id": "1234567", "name": "Ada Lovelace",
                               "email": "ada@acme.test"}},
        account=("1234567", "ada@acme.test"),
        proxy=("organizations/", "https://sentry.io/api/0/organizations/"),
        token_error=TokenError({"error": "invalid_grant", "error_description": "Invalid grant"},
                               says="Your Sentry sign-in has expired or was already used"),
    ),
    ProviderCase(
        slug="netlify",
        authorize_url="https://app.netlify.com/authorize",
        token_url="https://api.netlify.com/oauth/token",
        scopes=(), scope_params={}, pkce=False, client_auth="client_secret_post",
        refresh_token=False, expires_in=None,
        token_fields={"token_type": "Bearer", "created_at": 1764892800},
        documents=(Document("https://api.netlify.com/api/v1/user", {
            "id": "5c3f1a2b4d6e7f8091a2b3c4", "uid": None, "full_name": "Ada Lovelace",
            "avatar_url": None, "email": "ada@acme.test", "affiliate_id": "",
            "site_count": 3, "created_at": "2024-02-01T10:00:00.000Z",
            "last_login": "2026-12-01T09:00:00.000Z", "login_providers": ["github"]}),),
        account=("5c3f1a2b4d6e7f8091a2b3c4", "ada@acme.test"),
        proxy=("sites", "https://api.netlify.com/api/v1/sites"),
        token_error=TokenError({
            "error": "invalid_grant",
            "error_description": "The provided authorization grant is invalid, expired, "
                                 "revoked, does not match the redirection URI used in the "
                                 "authorization request, or was issued to another client."},
            says="That Netlify sign-in expired or was already used"),
    ),
    ProviderCase(
        slug="bitbucket",
        authorize_url="https://bitbucket.org/site/oauth2/authorize",
        token_url="https://bitbucket.org/site/oauth2/access_token",
        scopes=(), scope_params={}, pkce=False, expires_in=7200,
        token_fields={"scopes": "account repository pullrequest", "token_type": "bearer",
                      "state": "authorization_code"},
        documents=(Document("https://api.bitbucket.org/2.0/user", {
            "type": "user", "uuid": "{d301aafa-d676-4ee0-88be-962be7417567}",
            "account_id": "557058:c0b72ad0-1cb5-4018-9cdc-0cde8492c443",
            "username": "ada-lovelace", "nickname": "ada", "display_name": "Ada Lovelace",
            "account_status": "active"}),),
        account=("{d301aafa-d676-4ee0-88be-962be7417567}", "ada-lovelace"),
        proxy=("repositories/acme", "https://api.bitbucket.org/2.0/repositories/acme"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "The specified code is not valid."},
                               says="That Bitbucket sign-in expired or was already used"),
    ),
    ProviderCase(
        slug="gitea",
        settings={"gitea_host": "git.acme.test"},
        authorize_url="https://git.acme.test/login/oauth/authorize",
        token_url="https://git.acme.test/login/oauth/access_token",
        scopes=("read:repository",), scope_params={"scope": "read:user read:repository"},
        client_auth="client_secret_post", expires_in=3600,
        documents=(Document("https://git.acme.test/api/v1/user", {
            "id": 7, "login": "ada", "full_name": "Ada Lovelace", "email": "ada@acme.test",
            "avatar_url": "https://git.acme.test/avatars/7", "is_admin": False}),),
        account=("7", "ada"),
        proxy=("repos/search", "https://git.acme.test/api/v1/repos/search"),
        token_error=TokenError({"error": "unauthorized_client",
                                "error_description": "invalid client secret"},
                               says="isn't allowed to sign in this way"),
    ),
    ProviderCase(
        slug="confluence",
        authorize_url="https://auth.atlassian.com/authorize",
        token_url="https://auth.atlassian.com/oauth/token",
        scopes=("read:confluence-content.all",),
        scope_params={"scope": "offline_access read:me read:confluence-content.all"},
        authorize_params={"audience": "api.atlassian.com", "prompt": "consent"},
        pkce=False, client_auth="client_secret_post", body_format="json",
        token_fields={"scope": "offline_access read:me read:confluence-content.all"},
        documents=(
            Document("https://api.atlassian.com/oauth/token/accessible-resources",
                     [CONFLUENCE_SITE]),
            Document("https://api.atlassian.com/me", ATLASSIAN_ME),
        ),
        account=(ATLASSIAN_ME["account_id"], "ada@acme.test"),
        extras={"cloud_id": CONFLUENCE_SITE["id"], "site_url": "https://acme.atlassian.net"},
        proxy=("wiki/api/v2/pages",
               f"https://api.atlassian.com/ex/confluence/{CONFLUENCE_SITE['id']}/wiki/api/v2/pages"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "Invalid authorization code"},
                               status=403, says="Your Atlassian access has expired or was revoked"),
    ),
    ProviderCase(
        slug="wrike",
        authorize_url="https://login.wrike.com/oauth2/authorize/v4",
        token_url="https://login.wrike.com/oauth2/token",
        scopes=("wsReadOnly",), scope_params={"scope": "Default,wsReadOnly"},
        pkce=False, client_auth="client_secret_post",
        token_fields={"host": "app-eu.wrike.com"},
        documents=(Document("https://app-eu.wrike.com/api/v4/contacts", WRIKE_ME),),
        account=("KUAFY3BJ", "ada@acme.test"), extras={"host": "app-eu.wrike.com"},
        proxy=("tasks", "https://app-eu.wrike.com/api/v4/tasks"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "Authorization code is invalid"},
                               says="Your Wrike sign-in expired or was revoked"),
    ),
)

BASECAMP_AUTH = {
    "expires_at": "2026-12-19T12:00:00-06:00",
    "identity": {"id": 9999999, "first_name": "Ada", "last_name": "Lovelace",
                 "email_address": "ada@acme.test"},
    "accounts": [{"product": "bc3", "id": 99999999, "name": "Acme Design",
                  "href": "https://3.basecampapi.com/99999999",
                  "app_href": "https://3.basecamp.com/99999999"}]}
HARVEST_ACCOUNTS = {
    "user": {"id": 1782959, "first_name": "Ada", "last_name": "Lovelace",
             "email": "ada@acme.test"},
    "accounts": [{"id": 123456, "name": "Acme Studio", "product": "harvest"},
                 {"id": 789012, "name": "Acme Studio", "product": "forecast"}]}

CASES += (
    ProviderCase(
        slug="basecamp",
        authorize_url="https://launchpad.37signals.com/authorization/new",
        token_url="https://launchpad.37signals.com/authorization/token",
        settings={"user_agent": "Acme Sync (ops@acme.test)"},
        scopes=(), scope_params={}, pkce=False, client_auth="client_secret_post",
        expires_in=1209600, token_fields={"token_type": "Bearer"},
        documents=(Document("https://launchpad.37signals.com/authorization.json",
                            BASECAMP_AUTH),),
        account=("9999999", "ada@acme.test"),
        extras={"account_href": "https://3.basecampapi.com/99999999",
                "account_name": "Acme Design"},
        proxy=("projects.json", "https://3.basecampapi.com/99999999/projects.json"),
        proxy_headers={"user-agent": "Acme Sync (ops@acme.test)"},
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "The verification code is invalid"},
                               says="Your Basecamp sign-in expired or was revoked"),
    ),
    ProviderCase(
        slug="smartsheet",
        settings={"app_host": "app.smartsheet.eu", "api_host": "api.smartsheet.eu"},
        authorize_url="https://app.smartsheet.eu/b/authorize",
        token_url="https://api.smartsheet.eu/2.0/token",
        scopes=("READ_SHEETS", "WRITE_SHEETS"), scope_params={"scope": "READ_SHEETS WRITE_SHEETS"},
        pkce=False, client_auth="client_secret_post", expires_in=604799,
        documents=(Document("https://api.smartsheet.eu/2.0/users/me", {
            "id": 48569348493401200, "email": "ada@acme.test", "firstName": "Ada",
            "lastName": "Lovelace", "locale": "en_GB", "timeZone": "Europe/London",
            "account": {"id": 942513719853956, "name": "Acme"}}),),
        account=("48569348493401200", "ada@acme.test"),
        proxy=("sheets", "https://api.smartsheet.eu/2.0/sheets"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "Invalid authorization code"},
                               says="Your Smartsheet sign-in expired or was revoked"),
    ),
    ProviderCase(
        slug="harvest",
        settings={"user_agent": "Acme Sync (ops@acme.test)"},
        authorize_url="https://id.getharvest.com/oauth2/authorize",
        token_url="https://id.getharvest.com/api/v2/oauth2/token",
        scopes=("all",), scope_params={"scope": "all"},
        pkce=False, client_auth="client_secret_post", expires_in=1209599,
        documents=(Document("https://id.getharvest.com/api/v2/accounts", HARVEST_ACCOUNTS),),
        account=("1782959", "ada@acme.test"),
        extras={"account_id": "123456", "account_name": "Acme Studio"},
        proxy=("time_entries", "https://api.harvestapp.com/v2/time_entries"),
        proxy_headers={"harvest-account-id": "123456",
                       "user-agent": "Acme Sync (ops@acme.test)"},
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "The provided authorization grant is "
                                                     "invalid, expired or revoked."},
                               says="Your Harvest sign-in expired or was revoked"),
    ),
    ProviderCase(
        slug="heroku",
        authorize_url="https://id.heroku.com/oauth/authorize",
        token_url="https://id.heroku.com/oauth/token",
        scopes=("read",), scope_params={"scope": "read"},
        pkce=False, client_auth="client_secret_post", expires_in=28799,
        token_fields={"token_type": "Bearer",
                      "user_id": "01234567-89ab-cdef-0123-456789abcdef",
                      "session_nonce": "2bf3ec81-01a3-4d0c-8ff4-2e6f4c9b1a07"},
        documents=(Document("https://api.heroku.com/account", {
            "id": "01234567-89ab-cdef-0123-456789abcdef", "email": "ada@acme.test",
            "name": "Ada Lovelace", "verified": True, "two_factor_authentication": True}),),
        account=("01234567-89ab-cdef-0123-456789abcdef", "ada@acme.test"),
        proxy=("apps", "https://api.heroku.com/apps"),
        proxy_headers={"accept": "application/vnd.heroku+json; version=3"},
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "Grant is expired or already used"},
                               says="Your Heroku sign-in expired or was revoked"),
    ),
    ProviderCase(
        slug="digitalocean",
        authorize_url="https://cloud.digitalocean.com/v1/oauth/authorize",
        token_url="https://cloud.digitalocean.com/v1/oauth/token",
        scopes=("read",), scope_params={"scope": "read"},
        pkce=False, client_auth="client_secret_post", expires_in=2592000,
        token_fields={"scope": "read", "info": {
            "name": "Ada Lovelace", "email": "ada@acme.test",
            "uuid": "e028b1b918853eca7fba208a9d7e9d29a6e93c57"}},
        account=("e028b1b918853eca7fba208a9d7e9d29a6e93c57", "ada@acme.test"),
        proxy=("droplets", "https://api.digitalocean.com/v2/droplets"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "The provided authorization grant is "
                                                     "invalid, expired, revoked, does not "
                                                     "match the redirection URI used in the "
                                                     "authorization request, or was issued "
                                                     "to another client."},
                               status=401, says="Your DigitalOcean sign-in expired or was revoked"),
    ),
    ProviderCase(
        slug="todoist",
        authorize_url="https://app.todoist.com/oauth/authorize",
        token_url="https://api.todoist.com/oauth/access_token",
        scopes=("data:read", "task:add"), scope_params={"scope": "data:read,task:add"},
        pkce=False, client_auth="client_secret_post", refresh_token=False, expires_in=None,
        token_fields={"token_type": "Bearer"},
        documents=(Document("https://api.todoist.com/api/v1/user", {
            "id": "2671355", "email": "ada@acme.test", "full_name": "Ada Lovelace",
            "lang": "en", "tz_info": {"timezone": "Europe/London"}, "is_premium": True}),),
        account=("2671355", "ada@acme.test"),
        proxy=("tasks", "https://api.todoist.com/api/v1/tasks"),
        token_error=TokenError({"error": "invalid_grant"},
                               says="That Todoist sign-in expired or was already used"),
    ),
)

ADO = "499b84ac-1321-427f-aa17-267ca6975798"
MONDAY_ME = {"data": {"me": {"id": "4012345", "name": "Ada Lovelace", "email": "ada@acme.test",
                             "account": {"id": "9876543", "name": "Acme", "slug": "acme"}}},
             "account_id": 9876543}

CASES += (
    ProviderCase(
        slug="clickup",
        authorize_url="https://app.clickup.com/api",
        token_url="https://api.clickup.com/api/v2/oauth/token",
        scopes=(), scope_params={}, pkce=False, client_auth="client_secret_post",
        refresh_token=False, expires_in=None, token_fields={"token_type": "Bearer"},
        api_token=("Authorization", ""),
        documents=(Document("https://api.clickup.com/api/v2/user", {"user": {
            "id": 183, "username": "Ada Lovelace", "email": "ada@acme.test",
            "color": "#827718", "profilePicture": None, "initials": "AL",
            "week_start_day": 1, "timezone": "Europe/London"}}),),
        account=("183", "ada@acme.test"),
        proxy=("team", "https://api.clickup.com/api/v2/team"),
        token_error=TokenError({"err": "Workspace not authorized", "ECODE": "OAUTH_027"},
                               status=401, says="isn't authorized for this integration"),
    ),
    ProviderCase(
        slug="pagerduty",
        authorize_url="https://identity.pagerduty.com/oauth/authorize",
        token_url="https://identity.pagerduty.com/oauth/token",
        scopes=("incidents.read",), scope_params={"scope": "users.read incidents.read"},
        client_auth="client_secret_post",
        token_fields={"scope": "users.read incidents.read"},
        documents=(Document("https://api.pagerduty.com/users/me", {"user": {
            "id": "PXPGF42", "type": "user", "name": "Ada Lovelace",
            "email": "ada@acme.test", "time_zone": "Europe/London", "role": "user",
            "html_url": "https://acme.pagerduty.com/users/PXPGF42"}}),),
        account=("PXPGF42", "ada@acme.test"),
        proxy=("incidents", "https://api.pagerduty.com/incidents"),
        proxy_headers={"accept": "application/vnd.pagerduty+json;version=2"},
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "The authorization code is invalid"},
                               says="Your PagerDuty sign-in expired or was revoked"),
    ),
    ProviderCase(
        slug="vercel",
        authorize_url="https://vercel.com/oauth/authorize",
        token_url="https://api.vercel.com/login/oauth/token",
        scopes=("email",), scope_params={"scope": "openid offline_access email"},
        token_fields={"scope": "openid offline_access email", "token_type": "Bearer"},
        id_token_claims={"iss": "https://vercel.com", "sub": "hFeXkqIbtX2v9JCL0ahvTS1Q",
                         "aud": "cl_acme", "email": "ada@acme.test",
                         "preferred_username": "ada"},
        account=("hFeXkqIbtX2v9JCL0ahvTS1Q", "ada@acme.test"),
        proxy=("v9/projects", "https://api.vercel.com/v9/projects"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "Invalid authorization code"},
                               says="Your Vercel sign-in expired or was revoked"),
    ),
    ProviderCase(
        slug="monday",
        authorize_url="https://auth.monday.com/oauth2/authorize",
        token_url="https://auth.monday.com/oauth2/token",
        scopes=("boards:read",), scope_params={"scope": "me:read boards:read"},
        pkce=False, client_auth="client_secret_post", refresh_token=False, expires_in=None,
        token_fields={"token_type": "Bearer", "scope": "me:read boards:read"},
        api_token=("Authorization", ""),
        documents=(Document("https://api.monday.com/v2", MONDAY_ME, method="POST"),),
        account=("4012345", "ada@acme.test"),
        extras={"account_id": "9876543", "account_slug": "acme"},
        proxy=("v2", "https://api.monday.com/v2"),
        token_error=TokenError({"error": "unauthorized_client",
                                "error_description": "The app is not installed on this "
                                                     "account"},
                               says="the app may not be installed yet"),
    ),
    ProviderCase(
        slug="azure-devops",
        collect={"organization": "acme"},
        authorize_url="https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize",
        token_url="https://login.microsoftonline.com/organizations/oauth2/v2.0/token",
        scopes=(f"{ADO}/vso.work",),
        scope_params={"scope": f"offline_access {ADO}/vso.profile {ADO}/vso.work"},
        authorize_params={"response_mode": "query"}, client_auth="client_secret_post",
        token_fields={"scope": f"{ADO}/vso.profile {ADO}/vso.work", "ext_expires_in": 3600},
        documents=(Document("https://app.vssps.visualstudio.com/_apis/profile/profiles/me", {
            "displayName": "Ada Lovelace", "publicAlias": "6f2c3a1e-8b4d-4c2e-9a7f-1d2e3f4a5b6c",
            "emailAddress": "ada@acme.test", "coreRevision": 377018932,
            "timeStamp": "2026-10-01T08:12:44.1233333+00:00",
            "id": "6f2c3a1e-8b4d-4c2e-9a7f-1d2e3f4a5b6c", "revision": 377018932}),),
        account=("6f2c3a1e-8b4d-4c2e-9a7f-1d2e3f4a5b6c", "ada@acme.test"),
        proxy=("_apis/projects", "https://dev.azure.com/acme/_apis/projects"),
        token_error=TokenError({
            "error": "invalid_grant",
            "error_description": "AADSTS65001: The user or administrator has not consented "
                                 "to use the application.",
            "error_codes": [65001], "timestamp": "2026-12-05 09:12:44Z",
            "trace_id": "0b4e7c2e-1b7a-4a8e-9d0c-6f1f2b3c4d5e",
            "correlation_id": "5d3c2b1a-0f9e-4d8c-b7a6-e5d4c3b2a190"},
            says="Permission hasn't been granted to this app yet"),
    ),
)

MIRO_USER = "3458764517517819000"
MIRO_TEAM = "3458764517517852417"

CASES += (
    ProviderCase(
        slug="miro",
        authorize_url="https://miro.com/oauth/authorize",
        token_url="https://api.miro.com/v1/oauth/token",
        scopes=("boards:read",), scope_params={"scope": "boards:read"},
        pkce=False, client_auth="client_secret_post", expires_in=3599,
        token_fields={"user_id": MIRO_USER, "team_id": MIRO_TEAM, "scope": "boards:read"},
        documents=(Document("https://api.miro.com/v1/oauth-token", {
            "type": "oauth-token",
            "team": {"type": "team", "name": "Acme Design", "id": MIRO_TEAM},
            "createdBy": {"type": "user", "name": "Ada Lovelace", "id": MIRO_USER},
            "scopes": ["boards:read"],
            "user": {"type": "user", "name": "Ada Lovelace", "id": MIRO_USER}}),),
        account=(MIRO_USER, "Ada Lovelace"), extras={"team_id": MIRO_TEAM},
        proxy=("boards", "https://api.miro.com/v2/boards"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "Authorization code is invalid"},
                               says="That Miro sign-in expired or was already used"),
    ),
    ProviderCase(
        slug="launchdarkly",
        authorize_url="https://app.launchdarkly.com/trust/oauth/authorize",
        token_url="https://app.launchdarkly.com/trust/oauth/token",
        scopes=("reader",), scope_params={"scope": "reader"},
        token_fields={"scope": "reader"},
        documents=(Document("https://app.launchdarkly.com/api/v2/members/me", {
            "_id": "569f183514f4432160000007", "email": "ada@acme.test",
            "firstName": "Ada", "lastName": "Lovelace", "role": "writer",
            "_verified": True, "_pendingInvite": False}),),
        account=("569f183514f4432160000007", "ada@acme.test"),
        proxy=("flags/default", "https://app.launchdarkly.com/api/v2/flags/default"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "authorization code is expired"},
                               says="Your LaunchDarkly sign-in expired or was revoked"),
    ),
    ProviderCase(
        slug="hubstaff",
        authorize_url="https://account.hubstaff.com/authorizations/new",
        token_url="https://account.hubstaff.com/access_tokens",
        scopes=("email", "hubstaff:read"), scope_params={"scope": "openid email hubstaff:read"},
        pkce=False, expires_in=86400,
        token_fields={"scope": "openid email hubstaff:read"},
        id_token_claims={"iss": "https://account.hubstaff.com", "sub": "1048576",
                         "aud": "hubstaff-client", "email": "ada@acme.test"},
        account=("1048576", "ada@acme.test"),
        proxy=("users/me", "https://api.hubstaff.com/v2/users/me"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "The provided authorization grant is "
                                                     "invalid, expired, revoked, or was "
                                                     "issued to another client."},
                               says="Your Hubstaff sign-in expired or was revoked"),
    ),
)

ZOHO_PORTALS = {"login_id": "58572570", "portals": [{
    "id": 58572595, "id_string": "58572595", "name": "acmedesign", "role": "admin",
    "trial_enabled": False, "gmt_time_zone": "(GMT 1:0) Central European Time",
    "project_count": {"active": 4}, "bug_plan": "Enterprise",
    "link": {"project": {"url": "https://projectsapi.zoho.eu/restapi/portal/58572595/projects/"}}}]}

CASES += (
    ProviderCase(
        slug="zoho-projects",
        collect={"dc": "eu"},
        authorize_url="https://accounts.zoho.eu/oauth/v2/auth",
        token_url="https://accounts.zoho.eu/oauth/v2/token",
        scopes=("ZohoProjects.tasks.READ",),
        scope_params={"scope": "ZohoProjects.portals.READ,ZohoProjects.tasks.READ"},
        authorize_params={"access_type": "offline", "prompt": "consent"},
        pkce=False, client_auth="client_secret_post",
        token_fields={"api_domain": "https://www.zohoapis.eu", "token_type": "Bearer"},
        api_token=("Authorization", "Zoho-oauthtoken "),
        documents=(Document("https://projectsapi.zoho.eu/restapi/portals/", ZOHO_PORTALS),),
        account=("58572570", "acmedesign"), extras={"portal_id": "58572595"},
        proxy=("api/v3/portal/58572595/projects",
               "https://projectsapi.zoho.eu/api/v3/portal/58572595/projects"),
        # Zoho refuses a code exchange with HTTP 200 and an error field.
        token_error=TokenError({"error": "invalid_code"}, status=200,
                               says="That Zoho sign-in expired or was already used"),
    ),
)

SNYK_ORG = "a04d9cbd-ae6e-44af-b573-0556b0ad4bd2"

CASES += (
    ProviderCase(
        slug="snyk",
        authorize_url="https://app.snyk.io/oauth2/authorize",
        token_url="https://api.snyk.io/oauth2/token",
        scopes=(), scope_params={}, client_auth="client_secret_post",
        token_fields={"scope": "org.read org.project.read", "token_type": "bearer"},
        documents=(Document("https://api.snyk.io/rest/orgs", {
            "jsonapi": {"version": "1.0"},
            "data": [{"id": SNYK_ORG, "type": "org",
                      "attributes": {"name": "Acme Security", "slug": "acme-security",
                                     "group_id": "e661d4ef-5ad5-4cef-ad16-5157cefa83f5",
                                     "is_personal": False}}],
            "links": {"self": "/orgs?version=2024-10-15"}}),),
        account=(SNYK_ORG, "Acme Security"), extras={"org_id": SNYK_ORG},
        proxy=(f"rest/orgs/{SNYK_ORG}/projects",
               f"https://api.snyk.io/rest/orgs/{SNYK_ORG}/projects"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "code verifier does not match"},
                               says="Your Snyk sign-in expired or was revoked"),
    ),
)

CASES += (
    ProviderCase(
        slug="aha",
        collect={"subdomain": "acme"},
        authorize_url="https://acme.aha.io/oauth/authorize",
        token_url="https://acme.aha.io/oauth/token",
        scopes=(), scope_params={}, pkce=False, client_auth="client_secret_post",
        refresh_token=False, expires_in=None, token_fields={"token_type": "bearer"},
        documents=(Document("https://acme.aha.io/api/v1/me", {"user": {
            "id": "6776871157482176512", "name": "Ada Lovelace", "email": "ada@acme.test",
            "created_at": "2025-03-04T10:11:12.000Z"}}),),
        account=("6776871157482176512", "ada@acme.test"),
        proxy=("features", "https://acme.aha.io/api/v1/features"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "The provided authorization grant is "
                                                     "invalid, expired, revoked, does not "
                                                     "match the redirection URI used in the "
                                                     "authorization request, or was issued "
                                                     "to another client."},
                               says="That Aha! sign-in expired or was already used"),
    ),
)
