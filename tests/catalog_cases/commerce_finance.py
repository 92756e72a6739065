"""Provider cases: accounting, payments, e-commerce and e-signature."""

from __future__ import annotations

from tests.provider_case import Document, ProviderCase, TokenError

RFC_INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "The provided authorization grant is invalid, expired, revoked, does "
                         "not match the redirection URI used in the authorization request, or "
                         "was issued to another client.",
}

FRESHBOOKS_ME = {"response": {
    "id": 2192788, "identity_id": 2192788, "first_name": "Ada", "last_name": "Lovelace",
    "email": "ada@acme.test", "confirmed_at": "2026-01-10T14:08:05Z",
    "business_memberships": [{"id": 160, "role": "owner", "business": {
        "id": 77128, "business_uuid": "8ab0ab58-6a50-4f6f-a1f0-2a0c5e0c7e51",
        "name": "Acme Design", "account_id": "xZNQ1X"}}]}}

DOCUSIGN_ACCOUNT = {"account_id": "a4ec37d6-04b2-4a1d-9a36-1b3e1c7f5a21", "is_default": True,
                    "account_name": "Acme Inc", "base_uri": "https://demo.docusign.net"}

CASES: tuple[ProviderCase, ...] = (
    ProviderCase(
        slug="freshbooks",
        authorize_url="https://auth.freshbooks.com/oauth/authorize",
        token_url="https://api.freshbooks.com/auth/oauth/token",
        scopes=("user:invoices:read",),
        scope_params={"scope": "user:profile:read user:invoices:read"},
        pkce=False, client_auth="client_secret_post", expires_in=43200,
        token_fields={"token_type": "Bearer", "scope": "user:profile:read user:invoices:read",
                      "created_at": 1764928800},
        documents=(Document("https://api.freshbooks.com/auth/api/v1/users/me", FRESHBOOKS_ME),),
        account=("2192788", "ada@acme.test"),
        extras={"account_id": "xZNQ1X", "business_id": "77128"},
        proxy=("accounting/account/xZNQ1X/invoices/invoices",
               "https://api.freshbooks.com/accounting/account/xZNQ1X/invoices/invoices"),
        token_error=TokenError(RFC_INVALID_GRANT, status=401,
                               says="Your FreshBooks access has expired or was revoked"),
    ),
    ProviderCase(
        slug="sage-accounting",
        authorize_url="https://www.sageone.com/oauth2/auth/central",
        token_url="https://oauth.accounting.sage.com/token",
        scopes=("full_access",), scope_params={"scope": "full_access"},
        authorize_params={"filter": "apiv3.1"},
        # Sage's tokens last 300 seconds, no longer than xkit's default refresh margin
        # (XKIT_TOKEN_MIN_VALIDITY_SECONDS), which would make every fetch a refresh until the
        # margin is capped by the token's lifetime (issue 17); the case uses a longer one.
        pkce=False, client_auth="client_secret_post", expires_in=3600,
        token_fields={"token_type": "bearer", "scope": "full_access",
                      "refresh_token_expires_in": 2678400,
                      "requested_by_id": "1b3c2a0e-7d5f-4e8a-9c61-0f2d3e4a5b6c"},
        callback_params={"country": "gb"},
        documents=(Document("https://api.accounting.sage.com/v3.1/user", {
            "id": "1b3c2a0e-7d5f-4e8a-9c61-0f2d3e4a5b6c", "displayed_as": "Ada Lovelace",
            "first_name": "Ada", "last_name": "Lovelace", "initials": "AL",
            "email": "ada@acme.test", "locale": "en-GB"}),),
        account=("1b3c2a0e-7d5f-4e8a-9c61-0f2d3e4a5b6c", "ada@acme.test"),
        extras={"country": "gb", "requested_by_id": "1b3c2a0e-7d5f-4e8a-9c61-0f2d3e4a5b6c"},
        proxy=("contacts", "https://api.accounting.sage.com/v3.1/contacts"),
        token_error=TokenError({"error": "invalid_grant"},
                               says="Your Sage Accounting access has expired or was revoked"),
    ),
    ProviderCase(
        slug="netsuite",
        collect={"account_id": "1234567-sb1"},
        authorize_url="https://1234567-sb1.app.netsuite.com/app/login/oauth2/authorize.nl",
        token_url="https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token",
        scopes=("rest_webservices",), scope_params={"scope": "rest_webservices"},
        callback_params={"company": "1234567_SB1", "entity": "4622", "role": "3"},
        token_fields={"token_type": "access_token"},
        account=("1234567_SB1", "1234567_SB1"),
        extras={"company": "1234567_SB1", "entity": "4622", "role": "3"},
        proxy=("record/v1/customer",
               "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/record/v1/customer"),
        token_error=TokenError({"error": "invalid_client"},
                               says="client ID or secret is wrong"),
    ),
    ProviderCase(
        slug="square",
        authorize_url="https://connect.squareupsandbox.com/oauth2/authorize",
        token_url="https://connect.squareupsandbox.com/oauth2/token",
        settings={"square_host": "connect.squareupsandbox.com"},
        scopes=("PAYMENTS_READ",), scope_params={"scope": "MERCHANT_PROFILE_READ PAYMENTS_READ"},
        pkce=False, client_auth="client_secret_post", body_format="json", expires_in=None,
        token_fields={"token_type": "bearer", "expires_at": "2027-01-04T16:15:50Z",
                      "merchant_id": "ML2PMZQ4A8R7X", "short_lived": False},
        documents=(Document("https://connect.squareupsandbox.com/v2/merchants/me", {
            "merchant": {"id": "ML2PMZQ4A8R7X", "business_name": "Apple A Day",
                         "country": "US", "language_code": "en-US", "currency": "USD",
                         "status": "ACTIVE", "main_location_id": "LH2XR2A7C8T6M"}}),),
        account=("ML2PMZQ4A8R7X", "Apple A Day"),
        extras={"merchant_id": "ML2PMZQ4A8R7X", "expires_at": "2027-01-04T16:15:50Z"},
        proxy=("payments", "https://connect.squareupsandbox.com/v2/payments"),
        token_error=TokenError({"message": "Not Authorized", "type": "service.not_authorized"},
                               status=401, says="Square didn't accept this integration's"),
    ),
    ProviderCase(
        slug="docusign",
        authorize_url="https://account-d.docusign.com/oauth/auth",
        token_url="https://account-d.docusign.com/oauth/token",
        settings={"account_host": "account-d.docusign.com"},
        scopes=("click.manage",), scope_params={"scope": "signature extended click.manage"},
        expires_in=28800, token_fields={"token_type": "Bearer"},
        documents=(Document("https://account-d.docusign.com/oauth/userinfo", {
            "sub": "4799e5e9-1559-4915-9862-cf4713bbcacc", "name": "Ada Lovelace",
            "given_name": "Ada", "family_name": "Lovelace", "created": "2015-08-13T22:03:03.45",
            "email": "ada@acme.test", "accounts": [DOCUSIGN_ACCOUNT]}),),
        account=("4799e5e9-1559-4915-9862-cf4713bbcacc", "ada@acme.test"),
        extras={"account_id": DOCUSIGN_ACCOUNT["account_id"],
                "base_uri": "https://demo.docusign.net", "accounts": [DOCUSIGN_ACCOUNT]},
        proxy=("envelopes", "https://demo.docusign.net/restapi/v2.1/accounts/"
                            f"{DOCUSIGN_ACCOUNT['account_id']}/envelopes"),
        token_error=TokenError({"error": "invalid_grant"},
                               says="Your Docusign access has expired or was revoked"),
    ),
    ProviderCase(
        slug="squarespace",
        authorize_url="https://login.squarespace.com/api/1/login/oauth/provider/authorize",
        token_url="https://login.squarespace.com/api/1/login/oauth/provider/tokens",
        scopes=("website.orders.read", "website.products.read"),
        scope_params={"scope": "website.orders.read,website.products.read"},
        authorize_params={"access_type": "offline"},
        pkce=False, body_format="json", expires_in=1800,
        token_fields={"token_type": "bearer", "access_token_expires_at": 1764930600.5,
                      "refresh_token_expires_at": 1765533600.5, "session_id": "sess-1"},
        documents=(Document("https://api.squarespace.com/1.0/authorization/website", {
            "id": "5c4e9a7b2f1d3e0012ab34cd", "url": "https://acme-goods.squarespace.com",
            "siteTitle": "Acme Goods", "language": "en-US", "timeZone": "America/New_York"}),),
        account=("5c4e9a7b2f1d3e0012ab34cd", "Acme Goods"),
        proxy=("1.0/commerce/orders", "https://api.squarespace.com/1.0/commerce/orders"),
        token_error=TokenError({"error": "invalid_grant"},
                               says="Your Squarespace access has expired or was revoked"),
    ),
)
