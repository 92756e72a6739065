"""Provider cases: marketing, HR and recruiting, forms and analytics.

Each case restates what the provider documents (endpoints, client authentication, its token
answer, its account lookup and one of its refusals), independently of the template.
"""

from __future__ import annotations

import dataclasses

from tests.provider_case import Document, ProviderCase, TokenError, google

#: Google's answer to a code it cannot read (OAuth 2.0 for web server applications).
GOOGLE_BAD_CODE = TokenError(
    {"error": "invalid_grant", "error_description": "Malformed auth code."},
    says="Access to your Google account has expired or was revoked")


def _google(slug: str, scope: str, proxy_path: str, upstream: str,
            **changes: object) -> ProviderCase:
    """A Google template's case: the shared Google shape, with its refusal."""
    case = google(slug, scope, proxy_path, upstream)
    return dataclasses.replace(case, token_error=GOOGLE_BAD_CODE, **changes)  # type: ignore[arg-type]


CC_ACCOUNT = "a07e1l2yplzf"
FB_GRAPH = "https://graph.facebook.com/v23.0"

CASES: tuple[ProviderCase, ...] = (
    ProviderCase(
        slug="constant-contact",
        authorize_url="https://authz.constantcontact.com/oauth2/default/v1/authorize",
        token_url="https://authz.constantcontact.com/oauth2/default/v1/token",
        scopes=("contact_data",),
        scope_params={"scope": "offline_access account_read contact_data"},
        pkce=False, expires_in=86400,
        token_fields={"scope": "offline_access account_read contact_data",
                      "token_type": "Bearer"},
        documents=(Document("https://api.cc.email/v3/account/summary", {
            "contact_email": "dlang@example.com", "contact_phone": "5555555555",
            "country_code": "US", "encoded_account_id": CC_ACCOUNT,
            "first_name": "Debora", "last_name": "Lang",
            "organization_name": "Lang Dog Walking", "time_zone_id": "US/Eastern"}),),
        account=(CC_ACCOUNT, "dlang@example.com"),
        proxy=("contacts", "https://api.cc.email/v3/contacts"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "The authorization code is invalid or "
                                                     "has expired."},
                               says="Your Constant Contact sign-in has expired or was revoked"),
    ),
    ProviderCase(
        slug="klaviyo",
        authorize_url="https://www.klaviyo.com/oauth/authorize",
        token_url="https://a.klaviyo.com/oauth/token",
        scopes=("profiles:read", "lists:read"),
        scope_params={"scope": "accounts:read profiles:read lists:read"},
        token_fields={"scope": "accounts:read profiles:read lists:read", "token_type": "Bearer"},
        documents=(Document("https://a.klaviyo.com/api/accounts", {
            "data": [{"type": "account", "id": "AbC123",
                      "attributes": {"contact_information": {
                          "default_sender_name": "Acme", "default_sender_email": "hi@acme.test",
                          "organization_name": "Acme Outdoor"},
                          "industry": "Retail", "timezone": "US/Eastern"}}]}),),
        account=("AbC123", "Acme Outdoor"),
        proxy=("profiles", "https://a.klaviyo.com/api/profiles"),
        proxy_headers={"revision": "2025-10-15"},
        token_error=TokenError({"error": "invalid_client"},
                               says="Klaviyo client ID or secret was refused", status=401),
    ),
    ProviderCase(
        slug="linkedin",
        authorize_url="https://www.linkedin.com/oauth/v2/authorization",
        token_url="https://www.linkedin.com/oauth/v2/accessToken",
        scopes=("email", "w_member_social"),
        scope_params={"scope": "openid profile email w_member_social"},
        pkce=False, client_auth="client_secret_post", refresh_token=False, expires_in=5184000,
        token_fields={"scope": "email,openid,profile,w_member_social"},
        documents=(Document("https://api.linkedin.com/v2/userinfo", {
            "sub": "782bbtaQ", "name": "John Doe", "given_name": "John",
            "family_name": "Doe", "locale": "en-US", "email": "doe@email.test",
            "email_verified": True}),),
        account=("782bbtaQ", "doe@email.test"),
        proxy=("rest/posts", "https://api.linkedin.com/rest/posts"),
        token_error=TokenError({
            "error": "invalid_request",
            "error_description": "Unable to retrieve access token: appid/redirect uri/code "
                                 "verifier does not match authorization code. Or authorization "
                                 "code expired. Or external member binding exists"},
            says="LinkedIn didn't accept the sign-in"),
    ),
    ProviderCase(
        slug="facebook-pages",
        settings={"config_id": "1234567890123"},
        authorize_url="https://www.facebook.com/v23.0/dialog/oauth",
        token_url=f"{FB_GRAPH}/oauth/access_token",
        scopes=("pages_read_engagement", "pages_manage_posts"),
        scope_params={"scope": "public_profile,pages_show_list,pages_read_engagement,"
                               "pages_manage_posts"},
        authorize_params={"config_id": "1234567890123"},
        pkce=False, client_auth="client_secret_post", refresh_token=False, expires_in=5183944,
        documents=(
            Document(f"{FB_GRAPH}/me", {"id": "10158912345678901", "name": "Mary Smith"}),
            Document(f"{FB_GRAPH}/me/accounts", {
                "data": [{"access_token": "EAAJ-page-token", "category": "Pet Store",
                          "name": "Paws Corner", "id": "106123456789012",
                          "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT"]}],
                "paging": {"cursors": {"before": "QVFI", "after": "QVFJ"}}}),
        ),
        account=("10158912345678901", "Mary Smith"),
        proxy=("106123456789012/feed", f"{FB_GRAPH}/106123456789012/feed"),
        token_error=TokenError({"error": {
            "message": "This authorization code has been used.", "type": "OAuthException",
            "code": 100, "error_subcode": 36009, "fbtrace_id": "AbCdEf1234567"}},
            says="Facebook didn't accept the sign-in"),
    ),
    ProviderCase(
        slug="instagram",
        authorize_url="https://www.instagram.com/oauth/authorize",
        token_url="https://api.instagram.com/oauth/access_token",
        scopes=("instagram_business_content_publish",),
        scope_params={"scope": "instagram_business_basic,instagram_business_content_publish"},
        pkce=False, client_auth="client_secret_post", refresh_token=False, expires_in=None,
        top_level_token=False,
        token_fields={"data": [{"access_token": "{token:ig}", "user_id": "8841234567890123",
                                "permissions": "instagram_business_basic,"
                                               "instagram_business_content_publish"}]},
        documents=(Document("https://graph.instagram.com/me", {
            "user_id": "17841405793187218", "username": "paws.corner",
            "id": "8841234567890123"}),),
        account=("17841405793187218", "paws.corner"),
        proxy=("v23.0/me/media", "https://graph.instagram.com/v23.0/me/media"),
        token_error=TokenError({"error_type": "OAuthException", "code": 400,
                                "error_message": "Invalid authorization code"},
                               says="Instagram didn't accept the sign-in"),
    ),
    _google("google-ads", "https://www.googleapis.com/auth/adwords",
            "customers:listAccessibleCustomers",
            "https://googleads.googleapis.com/v21/customers:listAccessibleCustomers",
            settings={"developer_token": "ABcdeFGH93KL-NOPQ_STUv"},
            proxy_headers={"developer-token": "ABcdeFGH93KL-NOPQ_STUv"}),
    _google("google-analytics", "https://www.googleapis.com/auth/analytics.readonly",
            "v1beta/properties/123456789:runReport",
            "https://analyticsdata.googleapis.com/v1beta/properties/123456789:runReport"),
    _google("google-forms", "https://www.googleapis.com/auth/forms.responses.readonly",
            "forms/1FAIpQLSd/responses",
            "https://forms.googleapis.com/v1/forms/1FAIpQLSd/responses"),
    _google("youtube", "https://www.googleapis.com/auth/youtube.readonly", "channels",
            "https://www.googleapis.com/youtube/v3/channels"),
    _google("google-search-console", "https://www.googleapis.com/auth/webmasters.readonly",
            "webmasters/v3/sites", "https://searchconsole.googleapis.com/webmasters/v3/sites"),
)
