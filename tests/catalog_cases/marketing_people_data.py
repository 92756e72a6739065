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

SM_ACCESS_URL = "https://api.eu.surveymonkey.com"

CASES += (
    ProviderCase(
        slug="gusto",
        settings={"gusto_host": "api.gusto-demo.com"},
        authorize_url="https://api.gusto-demo.com/oauth/authorize",
        token_url="https://api.gusto-demo.com/oauth/token",
        scopes=(), scope_params={}, pkce=False, client_auth="client_secret_post",
        expires_in=7200,
        documents=(
            Document("https://api.gusto-demo.com/v1/token_info", {
                "scope": "companies:read employees:read",
                "resource": {"type": "Company",
                             "uuid": "d525dd21-ba6e-482c-be15-c2c7237f1364"},
                "resource_owner": {"type": "CompanyAdmin",
                                   "uuid": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"}}),
            Document("https://api.gusto-demo.com/v1/me", {
                "uuid": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "email": "ada@paws.test",
                "roles": {"payroll_admin": {"companies": [
                    {"uuid": "d525dd21-ba6e-482c-be15-c2c7237f1364"}]}}}),
        ),
        account=("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "ada@paws.test"),
        extras={"company_uuid": "d525dd21-ba6e-482c-be15-c2c7237f1364"},
        proxy=("v1/companies/d525dd21-ba6e-482c-be15-c2c7237f1364/employees",
               "https://api.gusto-demo.com/v1/companies/"
               "d525dd21-ba6e-482c-be15-c2c7237f1364/employees"),
        token_error=TokenError({
            "error": "invalid_grant",
            "error_description": "The provided authorization grant is invalid, expired, "
                                 "revoked, does not match the redirection URI used in the "
                                 "authorization request, or was issued to another client."},
            says="Your Gusto access has expired or was revoked"),
    ),
    ProviderCase(
        slug="lever",
        settings={"auth_host": "sandbox-lever.auth0.com", "api_host": "api.sandbox.lever.co"},
        authorize_url="https://sandbox-lever.auth0.com/authorize",
        token_url="https://sandbox-lever.auth0.com/oauth/token",
        scopes=("opportunities:read:admin",),
        scope_params={"scope": "offline_access opportunities:read:admin"},
        authorize_params={"audience": "https://api.sandbox.lever.co/v1/"},
        pkce=False, client_auth="client_secret_post",
        token_fields={"scope": "offline_access opportunities:read:admin",
                      "token_type": "Bearer"},
        account=(None, None),
        proxy=("opportunities", "https://api.sandbox.lever.co/v1/opportunities"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "Invalid authorization code"},
                               says="Your Lever access has expired or was revoked", status=403),
    ),
    ProviderCase(
        slug="deel",
        settings={"app_client_id": "1c2ccb6b-a5d3-47c1-a6e1-dfd29b9a8e4f"},
        authorize_url="https://app.deel.com/oauth2/authorize",
        token_url="https://app.deel.com/oauth2/tokens",
        scopes=("contracts:read",),
        scope_params={"scope": "organizations:read contracts:read"},
        pkce=False, expires_in=2592000,
        token_fields={"scope": "organizations:read contracts:read"},
        documents=(Document("https://api.letsdeel.com/rest/v2/organizations", {
            "data": [{"id": "a3c1e0f8-7b2d-4c5e-9f10-2b3c4d5e6f70", "name": "Paws Corner Inc.",
                      "workers_count": 12}]}),),
        account=("a3c1e0f8-7b2d-4c5e-9f10-2b3c4d5e6f70", "Paws Corner Inc."),
        proxy=("contracts", "https://api.letsdeel.com/rest/v2/contracts"),
        proxy_headers={"x-client-id": "1c2ccb6b-a5d3-47c1-a6e1-dfd29b9a8e4f"},
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "Invalid authorization code"},
                               says="Your Deel access has expired or was revoked"),
    ),
    ProviderCase(
        slug="typeform",
        authorize_url="https://api.typeform.com/oauth/authorize",
        token_url="https://api.typeform.com/oauth/token",
        scopes=("forms:read", "responses:read"),
        scope_params={"scope": "offline accounts:read forms:read responses:read"},
        pkce=False, client_auth="client_secret_post", expires_in=604800,
        documents=(Document("https://api.typeform.com/me", {
            "alias": "Ada Lovelace", "email": "ada@paws.test", "language": "en",
            "user_id": "01HZX3K4Q9Z8Y7X6W5V4T3S2R1"}),),
        account=("01HZX3K4Q9Z8Y7X6W5V4T3S2R1", "ada@paws.test"),
        proxy=("forms", "https://api.typeform.com/forms"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "authorization code is invalid"},
                               says="Your Typeform access has expired or was revoked"),
    ),
    ProviderCase(
        slug="surveymonkey",
        authorize_url="https://api.surveymonkey.com/oauth/authorize",
        token_url="https://api.surveymonkey.com/oauth/token",
        scopes=(), scope_params={}, pkce=False, client_auth="client_secret_post",
        refresh_token=False, expires_in=None,
        token_fields={"access_url": SM_ACCESS_URL, "token_type": "bearer"},
        documents=(Document(f"{SM_ACCESS_URL}/v3/users/me", {
            "id": "1234567", "username": "paws_corner", "email": "ada@paws.test",
            "account_type": "enterprise", "language": "en",
            "href": f"{SM_ACCESS_URL}/v3/users/1234567"}),),
        account=("1234567", "ada@paws.test"),
        extras={"access_url": SM_ACCESS_URL},
        proxy=("surveys", f"{SM_ACCESS_URL}/v3/surveys"),
        token_error=TokenError({"error": {
            "id": "1011", "name": "Authorization Error",
            "docs": "https://api.surveymonkey.com/v3/docs#error-codes",
            "message": "The authorization token provided was invalid.",
            "http_status_code": 401}}, says="Your SurveyMonkey sign-in is invalid", status=401),
    ),
    ProviderCase(
        slug="pinterest",
        authorize_url="https://www.pinterest.com/oauth/",
        token_url="https://api.pinterest.com/v5/oauth/token",
        scopes=("boards:read", "pins:read"),
        scope_params={"scope": "user_accounts:read,boards:read,pins:read"},
        pkce=False, expires_in=2592000,
        token_fields={"scope": "user_accounts:read,boards:read,pins:read",
                      "refresh_token_expires_in": 31536000, "token_type": "bearer"},
        documents=(Document("https://api.pinterest.com/v5/user_account", {
            "account_type": "BUSINESS", "id": "549755885175", "username": "pawscorner",
            "business_name": "Paws Corner", "board_count": 12, "pin_count": 340}),),
        account=("549755885175", "pawscorner"),
        proxy=("boards", "https://api.pinterest.com/v5/boards"),
        token_error=TokenError({"code": "invalid_grant",
                                "message": "Authorization code is invalid or expired"},
                               says="Your Pinterest access has expired or was revoked"),
    ),
    ProviderCase(
        slug="x",
        authorize_url="https://x.com/i/oauth2/authorize",
        token_url="https://api.x.com/2/oauth2/token",
        scopes=("tweet.write",),
        scope_params={"scope": "offline.access users.read tweet.read tweet.write"},
        expires_in=7200,
        token_fields={"scope": "offline.access users.read tweet.read tweet.write",
                      "token_type": "bearer"},
        documents=(Document("https://api.x.com/2/users/me", {
            "data": {"id": "2244994945", "name": "Paws Corner", "username": "pawscorner"}}),),
        account=("2244994945", "pawscorner"),
        proxy=("tweets", "https://api.x.com/2/tweets"),
        token_error=TokenError({"error": "invalid_request",
                                "error_description": "Value passed for the authorization code "
                                                     "was invalid."},
                               says="X didn't accept the sign-in"),
    ),
    ProviderCase(
        slug="snapchat",
        authorize_url="https://accounts.snapchat.com/login/oauth2/authorize",
        token_url="https://accounts.snapchat.com/login/oauth2/access_token",
        scopes=(), scope_params={"scope": "snapchat-marketing-api"},
        pkce=False, client_auth="client_secret_post", expires_in=1800,
        token_fields={"scope": "snapchat-marketing-api", "token_type": "Bearer"},
        documents=(Document("https://adsapi.snapchat.com/v1/me", {
            "request_status": "SUCCESS", "request_id": "5a0e7c3b00ff0c1a5b7d8e2f",
            "me": {"id": "8e4c9b10-7a2f-4d3e-9c1b-5f6a7b8c9d0e", "updated_at":
                   "2026-01-12T18:04:43.812Z", "email": "ads@paws.test",
                   "organization_id": "40d6719b-da09-410b-9185-0cc9c0dfed1d",
                   "display_name": "Ada"}}),),
        account=("8e4c9b10-7a2f-4d3e-9c1b-5f6a7b8c9d0e", "ads@paws.test"),
        proxy=("me/organizations", "https://adsapi.snapchat.com/v1/me/organizations"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "Invalid authorization code"},
                               says="Your Snapchat access has expired or was revoked"),
    ),
    ProviderCase(
        slug="eventbrite",
        authorize_url="https://www.eventbrite.com/oauth/authorize",
        token_url="https://www.eventbrite.com/oauth/token",
        scopes=(), scope_params={}, pkce=False, client_auth="client_secret_post",
        refresh_token=False, expires_in=None,
        documents=(Document("https://www.eventbriteapi.com/v3/users/me/", {
            "id": "100234987621", "name": "Ada Lovelace", "first_name": "Ada",
            "last_name": "Lovelace", "is_public": False, "image_id": None,
            "emails": [{"email": "ada@paws.test", "verified": True, "primary": True}]}),),
        account=("100234987621", "ada@paws.test"),
        proxy=("users/me/organizations/",
               "https://www.eventbriteapi.com/v3/users/me/organizations/"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "The code provided is invalid"},
                               says="Eventbrite no longer accepts this sign-in"),
    ),
)

WORKDAY_SERVICES = "https://wd5-services1.myworkday.com"

CASES += (
    ProviderCase(
        slug="reddit",
        authorize_url="https://www.reddit.com/api/v1/authorize",
        token_url="https://www.reddit.com/api/v1/access_token",
        scopes=("read", "submit"), scope_params={"scope": "identity read submit"},
        authorize_params={"duration": "permanent"}, pkce=False,
        token_fields={"scope": "identity read submit", "token_type": "bearer"},
        documents=(Document("https://oauth.reddit.com/api/v1/me", {
            "id": "1w72", "name": "paws_corner", "created_utc": 1508431200.0,
            "link_karma": 1204, "comment_karma": 877}),),
        account=("1w72", "paws_corner"),
        proxy=("r/aww/hot", "https://oauth.reddit.com/r/aww/hot"),
        proxy_headers={"user-agent": "web:xkit-integration:v1.0"},
        token_error=TokenError({"error": "invalid_grant"},
                               says="Reddit no longer accepts this sign-in"),
    ),
    ProviderCase(
        slug="workday",
        settings={"tenant": "acme_corp"},
        authorize_url="https://wd5.myworkday.com/acme_corp/authorize",
        token_url=f"{WORKDAY_SERVICES}/ccx/oauth2/acme_corp/token",
        scopes=(), scope_params={}, pkce=False, expires_in=3600,
        documents=(Document(f"{WORKDAY_SERVICES}/ccx/api/common/v1/acme_corp/workers/me", {
            "id": "3aa5550b7fe348b98d7b5741afc65534", "descriptor": "Logan McNeil",
            "href": f"{WORKDAY_SERVICES}/ccx/api/common/v1/acme_corp/workers/"
                    "3aa5550b7fe348b98d7b5741afc65534"}),),
        account=("3aa5550b7fe348b98d7b5741afc65534", "Logan McNeil"),
        proxy=("staffing/v6/acme_corp/workers",
               f"{WORKDAY_SERVICES}/ccx/api/staffing/v6/acme_corp/workers"),
        token_error=TokenError({"error": "invalid_client"},
                               says="Workday client ID or secret is wrong", status=401),
    ),
)

MS_LOGIN = "https://login.microsoftonline.com/common/oauth2/v2.0"

CASES += (
    ProviderCase(
        slug="microsoft-advertising",
        settings={"developer_token": "BBD37VB98", "customer_id": "21000123"},
        authorize_url=f"{MS_LOGIN}/authorize", token_url=f"{MS_LOGIN}/token",
        scopes=(),
        scope_params={"scope": "offline_access openid profile "
                               "https://ads.microsoft.com/msads.manage"},
        authorize_params={"response_mode": "query"}, client_auth="client_secret_post",
        id_token_claims={"oid": "00000000-0000-0000-66f3-3332eca7ea81",
                         "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
                         "preferred_username": "ads@contoso.test", "name": "Megan"},
        account=("00000000-0000-0000-66f3-3332eca7ea81", "ads@contoso.test"),
        api_token=("AuthenticationToken", ""),
        proxy=("CampaignManagement/v13/Campaigns/QueryByAccountId",
               "https://campaign.api.bingads.microsoft.com/CampaignManagement/v13/Campaigns/"
               "QueryByAccountId"),
        proxy_headers={"developertoken": "BBD37VB98", "customerid": "21000123"},
        token_error=TokenError({
            "error": "invalid_grant",
            "error_description": "AADSTS70008: The provided authorization code or refresh "
                                 "token has expired due to inactivity.",
            "error_codes": [70008], "timestamp": "2026-12-05 09:12:44Z"},
            says="Your Microsoft sign-in has expired or was revoked"),
    ),
    ProviderCase(
        slug="campaign-monitor",
        authorize_url="https://api.createsend.com/oauth",
        token_url="https://api.createsend.com/oauth/token",
        scopes=("ViewReports", "ManageLists"), scope_params={"scope": "ViewReports,ManageLists"},
        authorize_params={"type": "web_server"}, pkce=False,
        client_auth="client_secret_post", expires_in=1209600,
        documents=(Document("https://api.createsend.com/api/v3.3/primarycontact.json",
                            {"EmailAddress": "ada@paws.test"}),),
        account=("ada@paws.test", "ada@paws.test"),
        proxy=("clients.json", "https://api.createsend.com/api/v3.3/clients.json"),
        token_error=TokenError({"error": "invalid_grant",
                                "error_description": "Specified code was invalid or expired"},
                               says="Campaign Monitor no longer accepts this sign-in"),
    ),
)

CASES += (
    ProviderCase(
        slug="zoho-campaigns",
        collect={"dc": "eu"},
        authorize_url="https://accounts.zoho.eu/oauth/v2/auth",
        token_url="https://accounts.zoho.eu/oauth/v2/token",
        scopes=("ZohoCampaigns.contact.READ",),
        scope_params={"scope": "AaaServer.profile.Read,ZohoCampaigns.contact.READ"},
        authorize_params={"access_type": "offline", "prompt": "consent"},
        pkce=False, client_auth="client_secret_post",
        token_fields={"api_domain": "https://www.zohoapis.eu", "token_type": "Bearer"},
        api_token=("Authorization", "Zoho-oauthtoken "),
        documents=(Document("https://accounts.zoho.eu/oauth/user/info", {
            "First_Name": "Ada", "Email": "ada@paws.test", "Last_Name": "Lovelace",
            "Display_Name": "Ada Lovelace", "ZUID": 20071234567}),),
        account=("20071234567", "ada@paws.test"),
        proxy=("getmailinglists", "https://campaigns.zoho.eu/api/v1.1/getmailinglists"),
        token_error=TokenError({"error": "invalid_code"}, status=200,
                               says="Zoho no longer accepts this sign-in"),
    ),
    _google("google-tag-manager", "https://www.googleapis.com/auth/tagmanager.readonly",
            "accounts", "https://tagmanager.googleapis.com/tagmanager/v2/accounts"),
)
