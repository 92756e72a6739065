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
