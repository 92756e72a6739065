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
