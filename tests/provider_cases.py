"""How each built-in provider behaves, as its documentation says — one case per template.

A case restates, independently of the template, what the provider documents: its endpoints,
how a client authenticates, what its token response carries, what it answers to the account
and lookup calls. ``tests/test_provider_flows.py`` runs every template against the quirk
emulator configured from its case, so a template that disagrees with its provider's
documented behaviour fails. Adding a provider is adding its template and its case here.
"""

from __future__ import annotations

import re
from typing import Any

from tests.catalog_cases import FAMILIES
from tests.provider_case import (
    Document,
    ProviderCase,
    TokenError,
    google,
    microsoft,
)

__all__ = ["CASES", "CASES_BY_SLUG", "Document", "ProviderCase", "TokenError", "provider_hosts"]

CASES: tuple[ProviderCase, ...] = (
    ProviderCase(
        slug="oauth2",
        authorize_url="https://auth.custom-oauth.test/authorize",
        token_url="https://auth.custom-oauth.test/token",
        settings={"authorize_url": "https://auth.custom-oauth.test/authorize",
                  "token_url": "https://auth.custom-oauth.test/token",
                  "userinfo_url": "https://auth.custom-oauth.test/userinfo",
                  "api_base_url": "https://api.custom-oauth.test/v1"},
        scopes=("profile", "notes.read"), scope_params={"scope": "profile notes.read"},
        documents=(Document("https://auth.custom-oauth.test/userinfo",
                            {"sub": "u-1", "email": "ada@custom-oauth.test"}),),
        account=("u-1", "ada@custom-oauth.test"),
        proxy=("notes", "https://api.custom-oauth.test/v1/notes"),
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": "The authorization code is invalid or has expired."},
            says="Access to your account has expired or was revoked"),
    ),
    ProviderCase(
        slug="outlook-email",
        authorize_url="https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        token_url="https://login.microsoftonline.com/common/oauth2/v2.0/token",
        scopes=("User.Read", "Mail.Read"),
        scope_params={"scope": "offline_access User.Read Mail.Read"},
        authorize_params={"response_mode": "query"}, client_auth="client_secret_post",
        documents=(Document("https://graph.microsoft.com/v1.0/me",
                            {"id": "48d31887-5fad-4d73-a9f5-3c356e68a038", "mail": None,
                             "userPrincipalName": "megan@contoso.test"}),),
        account=("48d31887-5fad-4d73-a9f5-3c356e68a038", "megan@contoso.test"),
        proxy=("me/messages", "https://graph.microsoft.com/v1.0/me/messages"),
        token_error=TokenError({
            "error": "invalid_grant",
            "error_description": "AADSTS70008: The provided authorization code or refresh "
                                 "token has expired due to inactivity.",
            "error_codes": [70008], "timestamp": "2026-12-05 09:12:44Z",
            "trace_id": "0b4e7c2e-1b7a-4a8e-9d0c-6f1f2b3c4d5e",
            "correlation_id": "5d3c2b1a-0f9e-4d8c-b7a6-e5d4c3b2a190"},
            says="Your Microsoft sign-in has expired or was revoked"),
    ),
    microsoft("outlook-calendar", "common", ("User.Read", "Calendars.Read"),
              ("me/events", "https://graph.microsoft.com/v1.0/me/events")),
    microsoft("onedrive", "common", ("User.Read", "Files.Read"),
              ("me/drive/root/children", "https://graph.microsoft.com/v1.0/me/drive/root/children")),
    microsoft("microsoft-teams", "organizations", ("User.Read", "Team.ReadBasic.All"),
              ("me/joinedTeams", "https://graph.microsoft.com/v1.0/me/joinedTeams")),
    google("gmail", "https://www.googleapis.com/auth/gmail.readonly", "users/me/messages",
           "https://gmail.googleapis.com/gmail/v1/users/me/messages"),
    google("google-calendar", "https://www.googleapis.com/auth/calendar.events",
           "calendars/primary/events",
           "https://www.googleapis.com/calendar/v3/calendars/primary/events"),
    google("google-drive", "https://www.googleapis.com/auth/drive.file", "files",
           "https://www.googleapis.com/drive/v3/files"),
    google("google-sheets", "https://www.googleapis.com/auth/spreadsheets",
           "spreadsheets/abc123", "https://sheets.googleapis.com/v4/spreadsheets/abc123"),
)

CASES += (
    ProviderCase(
        slug="slack",
        authorize_url="https://slack.com/oauth/v2/authorize",
        token_url="https://slack.com/api/oauth.v2.access",
        scopes=("chat:write", "channels:read", "user:search:read"),
        scope_params={"scope": "chat:write,channels:read", "user_scope": "search:read"},
        pkce=False, refresh_token=False, expires_in=None,
        token_fields={
            "ok": True, "app_id": "A0KRD7HC3", "token_type": "bot",
            "scope": "chat:write,channels:read", "bot_user_id": "U0KRQLJ9H",
            "team": {"id": "T9TK3CUKW", "name": "Slack Softball Team"}, "enterprise": None,
            "is_enterprise_install": False,
            "authed_user": {"id": "U1234", "scope": "search:read",
                            "access_token": "{token:xoxp}", "token_type": "user"},
        },
        account=("T9TK3CUKW", "Slack Softball Team"),
        extras={"team_id": "T9TK3CUKW", "bot_user_id": "U0KRQLJ9H", "authed_user_id": "U1234"},
        extras_present=("user_token",),
        proxy=("chat.postMessage", "https://slack.com/api/chat.postMessage"),
        token_error=TokenError(
            {"ok": False,
             "error": "invalid_code"},
            says="That sign-in link was already used or expired", status=200),
    ),
    ProviderCase(
        slug="slack", variant="user-only",
        authorize_url="https://slack.com/oauth/v2/authorize",
        token_url="https://slack.com/api/oauth.v2.access",
        scopes=("user:search:read",), scope_params={"user_scope": "search:read"},
        pkce=False, refresh_token=False, expires_in=None, top_level_token=False,
        token_fields={
            "ok": True, "app_id": "A0KRD7HC3",
            "team": {"id": "T9TK3CUKW", "name": "Slack Softball Team"},
            "authed_user": {"id": "U1234", "scope": "search:read",
                            "access_token": "{token:xoxp}", "token_type": "user"},
        },
        account=("T9TK3CUKW", "Slack Softball Team"), extras_present=("user_token",),
        proxy=("search.messages", "https://slack.com/api/search.messages"),
    ),
    ProviderCase(
        slug="github",
        authorize_url="https://github.com/login/oauth/authorize",
        token_url="https://github.com/login/oauth/access_token",
        scopes=("read:user", "repo"), scope_params={"scope": "read:user repo"},
        client_auth="client_secret_post", refresh_token=False, expires_in=None,
        token_fields={"scope": "read:user,repo", "token_type": "bearer"},
        documents=(Document("https://api.github.com/user",
                            {"login": "octocat", "id": 1, "email": None}),),
        account=("1", "octocat"),
        proxy=("repos/octocat/hello-world", "https://api.github.com/repos/octocat/hello-world"),
        proxy_headers={"x-github-api-version": "2022-11-28"},
        token_error=TokenError(
            {"error": "bad_verification_code",
             "error_description": "The code passed is incorrect or expired.",
             "error_uri": ("https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth"
                           "-app-access-token-request-errors/#bad-verification-code")},
            says="That sign-in link was already used or expired", status=200),
    ),
    ProviderCase(
        slug="gitlab",
        authorize_url="https://gitlab.example.test/oauth/authorize",
        token_url="https://gitlab.example.test/oauth/token",
        settings={"gitlab_host": "gitlab.example.test"},
        scopes=("read_api",), scope_params={"scope": "read_user read_api"},
        client_auth="client_secret_post", expires_in=7200,
        documents=(Document("https://gitlab.example.test/api/v4/user",
                            {"id": 42, "username": "ada", "email": "ada@example.test"}),),
        account=("42", "ada"),
        proxy=("projects", "https://gitlab.example.test/api/v4/projects"),
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": ("The provided authorization grant is invalid, expired, revoked,"
                                   " does not match the redirection URI used in the authorization "
                                   "request, or was issued to another client.")},
            says="Access to your GitLab account has expired or was revoked"),
    ),
)

SALESFORCE_ID = "https://test.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS"
SALESFORCE_INSTANCE = "https://acme--dev.sandbox.my.salesforce.com"

CASES += (
    ProviderCase(
        slug="salesforce",
        collect={"login_host": "test.salesforce.com"},
        authorize_url="https://test.salesforce.com/services/oauth2/authorize",
        token_url="https://test.salesforce.com/services/oauth2/token",
        scopes=("api",), scope_params={"scope": "refresh_token id api"},
        client_auth="client_secret_post", expires_in=None,
        token_fields={"instance_url": SALESFORCE_INSTANCE, "id": SALESFORCE_ID,
                      "issued_at": "1278448101416", "signature": "CMJ4l+CCaPQiKjoO=",
                      "scope": "refresh_token id api"},
        documents=(Document(SALESFORCE_ID, {
            "id": SALESFORCE_ID, "user_id": "005xx000001SwiUAAS",
            "organization_id": "00Dxx0000001gPLEAY", "username": "ada@acme.test.dev",
            "email": "ada@acme.test", "display_name": "Ada"}),),
        account=("005xx000001SwiUAAS", "ada@acme.test.dev"),
        extras={"instance_url": SALESFORCE_INSTANCE, "organization_id": "00Dxx0000001gPLEAY"},
        proxy=("services/data/v62.0/sobjects",
               f"{SALESFORCE_INSTANCE}/services/data/v62.0/sobjects"),
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": "expired authorization code"},
            says="Your Salesforce access has expired or was revoked"),
    ),
    ProviderCase(
        slug="hubspot",
        authorize_url="https://app.hubspot.com/oauth/authorize",
        token_url="https://api.hubapi.com/oauth/v3/token",
        scopes=("crm.objects.contacts.read", "optional:tickets"),
        scope_params={"scope": "oauth crm.objects.contacts.read", "optional_scope": "tickets"},
        client_auth="client_secret_post", expires_in=1800,
        documents=(Document("https://api.hubapi.com/account-info/2026-03/details", {
            "portalId": 62515, "accountType": "STANDARD", "timeZone": "US/Eastern",
            "uiDomain": "app.hubspot.com"}),),
        account=("62515", "app.hubspot.com"), extras={"hub_id": "62515"},
        proxy=("crm/v3/objects/contacts", "https://api.hubapi.com/crm/v3/objects/contacts"),
        token_error=TokenError(
            {"message": "Invalid input (details will vary based on the error)",
             "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf",
             "category": "VALIDATION_ERROR"},
            says="HubSpot didn't accept this sign-in, which may have expired or been used already"),
    ),
    ProviderCase(
        slug="zendesk",
        collect={"subdomain": "acme"},
        authorize_url="https://acme.zendesk.com/oauth/authorizations/new",
        token_url="https://acme.zendesk.com/oauth/tokens",
        scopes=("read", "tickets:write"), scope_params={"scope": "read tickets:write"},
        client_auth="client_secret_post", body_format="json", scope_in_token_request=True,
        expires_in=172800,
        documents=(Document("https://acme.zendesk.com/api/v2/users/me", {
            "user": {"id": 35436, "name": "Ada", "email": "ada@acme.test"}}),),
        account=("35436", "ada@acme.test"),
        proxy=("tickets.json", "https://acme.zendesk.com/api/v2/tickets.json"),
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": ("The provided access grant is invalid, expired, or revoked "
                                   "(e.g. invalid assertion, expired authorization token, bad "
                                   "end-user password credentials, or mismatching authorization "
                                   "code and redirection URI).")},
            says="Your Zendesk access has expired or was revoked"),
    ),
    ProviderCase(
        slug="zoom",
        authorize_url="https://zoom.us/oauth/authorize", token_url="https://zoom.us/oauth/token",
        scopes=("user:read:user",), scope_params={"scope": "user:read:user"},
        token_fields={"scope": "user:read:user", "api_url": "https://api.zoom.us"},
        documents=(Document("https://api.zoom.us/v2/users/me", {
            "id": "KDcuGIm1QgePTO8WbOqwIQ", "email": "ada@example.test",
            "display_name": "Ada"}),),
        account=("KDcuGIm1QgePTO8WbOqwIQ", "ada@example.test"),
        proxy=("users/me/meetings", "https://api.zoom.us/v2/users/me/meetings"),
        token_error=TokenError(
            {"reason": "Invalid authorization code",
             "error": "invalid_request"},
            says="Zoom refused the sign-in request"),
    ),
    ProviderCase(
        slug="dropbox",
        authorize_url="https://www.dropbox.com/oauth2/authorize",
        token_url="https://api.dropboxapi.com/oauth2/token",
        scopes=("files.content.read",),
        scope_params={"scope": "account_info.read files.content.read"},
        authorize_params={"token_access_type": "offline"}, expires_in=14400,
        token_fields={"account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
                      "uid": "12345", "scope": "account_info.read files.content.read"},
        documents=(Document("https://api.dropboxapi.com/2/users/get_current_account", {
            "account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
            "name": {"display_name": "Ada Lovelace"}, "email": "ada@example.test"},
            method="POST"),),
        account=("dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc", "ada@example.test"),
        extras={"account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"},
        proxy=("files/list_folder", "https://api.dropboxapi.com/2/files/list_folder"),
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": "code doesn't exist or has expired"},
            says="Your Dropbox access has expired or was revoked"),
    ),
    ProviderCase(
        slug="box",
        authorize_url="https://account.box.com/api/oauth2/authorize",
        token_url="https://api.box.com/oauth2/token",
        scopes=("root_readwrite",), scope_params={"scope": "root_readwrite"},
        pkce=False, client_auth="client_secret_post",
        documents=(Document("https://api.box.com/2.0/users/me", {
            "type": "user", "id": "11446498", "login": "ada@example.test", "name": "Ada"}),),
        account=("11446498", "ada@example.test"),
        proxy=("folders/0/items", "https://api.box.com/2.0/folders/0/items"),
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": "Auth code doesn't exist or is invalid for the client"},
            says="Your Box access has expired or was revoked"),
    ),
)

JIRA_SITE = {"id": "1324a887-45db-1bf4-1e99-ef0ff456d421", "url": "https://acme.atlassian.net",
             "name": "acme", "scopes": ["read:jira-work"], "avatarUrl": "https://acme.test/a.png"}

CASES += (
    ProviderCase(
        slug="notion",
        authorize_url="https://api.notion.com/v1/oauth/authorize",
        token_url="https://api.notion.com/v1/oauth/token",
        scopes=(), scope_params={}, authorize_params={"owner": "user"},
        pkce=False, body_format="json", expires_in=None,
        token_fields={
            "bot_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a", "workspace_name": "Acme",
            "workspace_icon": "https://www.notion.so/images/page-cover/acme.png",
            "workspace_id": "9a1cd9f0-3d2a-4b4c-8a86-4a2f0d5d3e10",
            "owner": {"type": "user", "user": {"object": "user", "id": "u-7", "type": "person",
                                               "person": {"email": "ada@acme.test"}}},
            "duplicated_template_id": None, "request_id": "r-1"},
        account=("9a1cd9f0-3d2a-4b4c-8a86-4a2f0d5d3e10", "Acme"),
        extras={"bot_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a", "workspace_name": "Acme"},
        proxy=("search", "https://api.notion.com/v1/search"),
        proxy_headers={"notion-version": "2025-09-03"},
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": "Invalid code."},
            says="Your Notion access has expired or was revoked"),
    ),
    ProviderCase(
        slug="asana",
        authorize_url="https://app.asana.com/-/oauth_authorize",
        token_url="https://app.asana.com/-/oauth_token",
        scopes=("default",), scope_params={"scope": "default"},
        client_auth="client_secret_post",
        token_fields={"data": {"id": 4673218951, "gid": "4673218951", "name": "Greg Sanchez",
                               "email": "gsanchez@example.com"}},
        account=("4673218951", "gsanchez@example.com"),
        proxy=("workspaces", "https://app.asana.com/api/1.0/workspaces"),
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": "The code has expired or is invalid."},
            says="Your Asana access has expired or was revoked"),
    ),
    ProviderCase(
        slug="pipedrive",
        authorize_url="https://oauth.pipedrive.com/oauth/authorize",
        token_url="https://oauth.pipedrive.com/oauth/token",
        scopes=(), scope_params={}, pkce=False, expires_in=3599,
        token_fields={"api_domain": "https://acme.pipedrive.com", "scope": "base,deals:full"},
        documents=(Document("https://acme.pipedrive.com/api/v1/users/me", {
            "success": True, "data": {"id": 123, "name": "Ada", "email": "ada@acme.test",
                                      "company_id": 456, "company_name": "Acme"}}),),
        account=("123", "ada@acme.test"),
        extras={"api_domain": "https://acme.pipedrive.com", "company_id": "456"},
        proxy=("api/v2/deals", "https://acme.pipedrive.com/api/v2/deals"),
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": "Invalid grant: authorization_code is invalid"},
            says="Your Pipedrive access has expired or was revoked"),
    ),
    ProviderCase(
        slug="mailchimp",
        authorize_url="https://login.mailchimp.com/oauth2/authorize",
        token_url="https://login.mailchimp.com/oauth2/token",
        scopes=(), scope_params={}, pkce=False, client_auth="client_secret_post",
        refresh_token=False, expires_in=None, token_fields={"scope": None},
        documents=(Document("https://login.mailchimp.com/oauth2/metadata", {
            "dc": "us19", "role": "owner", "accountname": "Acme", "user_id": 41233,
            "login": {"email": "ada@acme.test", "login_id": 41233, "login_name": "ada",
                      "login_email": "ada@acme.test"},
            "login_url": "https://login.mailchimp.com",
            "api_endpoint": "https://us19.api.mailchimp.com"}, prefix="OAuth "),),
        account=("41233", "ada@acme.test"),
        extras={"dc": "us19", "api_endpoint": "https://us19.api.mailchimp.com"},
        proxy=("lists", "https://us19.api.mailchimp.com/3.0/lists"),
        token_error=TokenError(
            {"error": "invalid_grant"},
            says="Mailchimp no longer accepts this sign-in"),
    ),
    ProviderCase(
        slug="jira",
        authorize_url="https://auth.atlassian.com/authorize",
        token_url="https://auth.atlassian.com/oauth/token",
        scopes=("read:jira-work",),
        scope_params={"scope": "offline_access read:me read:jira-work"},
        authorize_params={"audience": "api.atlassian.com", "prompt": "consent"},
        pkce=False, client_auth="client_secret_post", body_format="json",
        documents=(
            Document("https://api.atlassian.com/oauth/token/accessible-resources", [JIRA_SITE]),
            Document("https://api.atlassian.com/me", {
                "account_id": "5b10ac8d82e05b22cc7d4ef5", "email": "ada@acme.test",
                "name": "Ada"}),
        ),
        account=("5b10ac8d82e05b22cc7d4ef5", "ada@acme.test"),
        extras={"cloud_id": JIRA_SITE["id"], "site_url": "https://acme.atlassian.net",
                "sites": [JIRA_SITE]},
        proxy=("rest/api/3/myself",
               f"https://api.atlassian.com/ex/jira/{JIRA_SITE['id']}/rest/api/3/myself"),
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": "Invalid authorization code"},
            says="Your Atlassian access has expired or was revoked", status=403),
    ),
    ProviderCase(
        slug="linear",
        authorize_url="https://linear.app/oauth/authorize",
        token_url="https://api.linear.app/oauth/token",
        scopes=("issues:create",), scope_params={"scope": "read,issues:create"},
        authorize_params={"actor": "user"}, client_auth="client_secret_post", expires_in=86399,
        documents=(Document("https://api.linear.app/graphql", {"data": {
            "viewer": {"id": "2c0a2b3e-1c3d-4d41-9d3b-1e5a6f0b7c8d", "name": "Ada",
                       "email": "ada@acme.test"},
            "organization": {"id": "org-1", "name": "Acme", "urlKey": "acme"}}},
            method="POST"),),
        account=("2c0a2b3e-1c3d-4d41-9d3b-1e5a6f0b7c8d", "ada@acme.test"),
        extras={"organization_id": "org-1", "organization_url_key": "acme"},
        proxy=("graphql", "https://api.linear.app/graphql"),
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": "Invalid authorization code"},
            says="Your Linear access has expired or was revoked"),
    ),
)

XERO_TENANT = {"id": "7cb59f93-2964-421d-bb5e-a0f7a4572a44",
               "tenantId": "fe79f7dd-b6d4-4a92-ba7b-538af6289c58",
               "tenantName": "Demo Company (NZ)", "tenantType": "ORGANISATION"}
CALENDLY_USER = "https://api.calendly.com/users/EBHAAFHDCAEQTSEZ"

CASES += (
    ProviderCase(
        slug="intercom",
        authorize_url="https://app.intercom.com/oauth",
        token_url="https://api.intercom.io/auth/eagle/token",
        scopes=(), scope_params={}, pkce=False, client_auth="client_secret_post",
        refresh_token=False, expires_in=None, token_fields={"token_type": "Bearer"},
        documents=(Document("https://api.intercom.io/me", {
            "type": "admin", "id": "991267460", "email": "ada@acme.test", "name": "Ada",
            "app": {"type": "app", "id_code": "abc123de", "name": "Acme"}}),),
        account=("991267460", "ada@acme.test"),
        extras={"workspace_id": "abc123de", "workspace_name": "Acme"},
        proxy=("conversations", "https://api.intercom.io/conversations"),
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": "The authorization code is invalid."},
            says="Intercom no longer accepts this sign-in"),
    ),
    ProviderCase(
        slug="airtable",
        authorize_url="https://airtable.com/oauth2/v1/authorize",
        token_url="https://airtable.com/oauth2/v1/token",
        scopes=("data.records:read", "user.email:read"),
        scope_params={"scope": "data.records:read user.email:read"},
        documents=(Document("https://api.airtable.com/v0/meta/whoami", {
            "id": "usrL2PNC5o3H4lBEi", "email": "ada@acme.test",
            "scopes": ["data.records:read", "user.email:read"]}),),
        account=("usrL2PNC5o3H4lBEi", "ada@acme.test"),
        proxy=("meta/bases", "https://api.airtable.com/v0/meta/bases"),
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": "The authorization code is invalid or has expired."},
            says="Your Airtable access has expired or was revoked"),
    ),
    ProviderCase(
        slug="quickbooks",
        authorize_url="https://appcenter.intuit.com/connect/oauth2",
        token_url="https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
        settings={"api_host": "sandbox-quickbooks.api.intuit.com"},
        scopes=("com.intuit.quickbooks.accounting",),
        scope_params={"scope": "com.intuit.quickbooks.accounting"}, pkce=False,
        callback_params={"realmId": "4620816365272861640"},
        token_fields={"x_refresh_token_expires_in": 8726400},
        documents=(Document(
            "https://sandbox-quickbooks.api.intuit.com/v3/company/4620816365272861640"
            "/companyinfo/4620816365272861640",
            {"CompanyInfo": {"CompanyName": "Acme Sandbox", "Id": "1"}}),),
        account=("4620816365272861640", "Acme Sandbox"),
        extras={"realm_id": "4620816365272861640", "company_name": "Acme Sandbox"},
        proxy=("query", "https://sandbox-quickbooks.api.intuit.com/v3/company/"
                        "4620816365272861640/query"),
        token_error=TokenError(
            {"error": "invalid_grant"},
            says="Your QuickBooks access has expired or was revoked"),
    ),
    ProviderCase(
        slug="xero",
        authorize_url="https://login.xero.com/identity/connect/authorize",
        token_url="https://identity.xero.com/connect/token",
        scopes=("accounting.invoices.read",),
        scope_params={"scope": "offline_access openid email accounting.invoices.read"},
        expires_in=1800,
        id_token_claims={"sub": "a3a4dbafh3495a808ed7a7b964388f53",
                         "xero_userid": "1945393b-6eb7-4143-b083-7ab26cd7690b",
                         "email": "ada@acme.test"},
        documents=(Document("https://api.xero.com/connections", [XERO_TENANT]),),
        account=("1945393b-6eb7-4143-b083-7ab26cd7690b", "ada@acme.test"),
        extras={"tenant_id": XERO_TENANT["tenantId"], "tenants": [XERO_TENANT]},
        proxy=("api.xro/2.0/Invoices", "https://api.xero.com/api.xro/2.0/Invoices"),
        proxy_headers={"xero-tenant-id": XERO_TENANT["tenantId"]},
        token_error=TokenError(
            {"error": "invalid_grant"},
            says="Your Xero access has expired or was revoked"),
    ),
    ProviderCase(
        slug="shopify",
        collect={"shop": "acme-store"},
        authorize_url="https://acme-store.myshopify.com/admin/oauth/authorize",
        token_url="https://acme-store.myshopify.com/admin/oauth/access_token",
        scopes=("read_products", "read_orders"),
        scope_params={"scope": "read_products,read_orders"},
        pkce=False, client_auth="client_secret_post", refresh_token=False, expires_in=None,
        token_fields={"scope": "read_products,read_orders"},
        api_token=("X-Shopify-Access-Token", ""),
        documents=(Document("https://acme-store.myshopify.com/admin/api/2025-01/shop.json", {
            "shop": {"id": 548380009, "name": "Acme Store",
                     "myshopify_domain": "acme-store.myshopify.com"}}),),
        account=("548380009", "acme-store.myshopify.com"),
        proxy=("2025-01/products.json",
               "https://acme-store.myshopify.com/admin/api/2025-01/products.json"),
        token_error=TokenError(
            {"error": "invalid_request",
             "error_description": "The authorization code was not found or was already used"},
            says="Shopify refused the sign-in request"),
    ),
    ProviderCase(
        slug="calendly",
        authorize_url="https://auth.calendly.com/oauth/authorize",
        token_url="https://auth.calendly.com/oauth/token",
        scopes=(), scope_params={}, expires_in=7200,
        token_fields={"created_at": 1548689183, "scope": "default", "owner": CALENDLY_USER,
                      "organization": "https://api.calendly.com/organizations/EBHAAFHDCAEQTSEZ"},
        documents=(Document("https://api.calendly.com/users/me", {"resource": {
            "uri": CALENDLY_USER, "name": "Ada", "email": "ada@acme.test"}}),),
        account=(CALENDLY_USER, "ada@acme.test"), extras={"owner": CALENDLY_USER},
        proxy=("event_types", "https://api.calendly.com/event_types"),
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": ("The provided authorization grant is invalid, expired, revoked,"
                                   " does not match the redirection URI used in the authorization "
                                   "request, or was issued to another client.")},
            says="Your Calendly access has expired or was revoked"),
    ),
    ProviderCase(
        slug="webflow",
        authorize_url="https://webflow.com/oauth/authorize",
        token_url="https://api.webflow.com/oauth/access_token",
        scopes=("sites:read",), scope_params={"scope": "authorized_user:read sites:read"},
        pkce=False, client_auth="client_secret_post", refresh_token=False, expires_in=None,
        documents=(Document("https://api.webflow.com/v2/token/authorized_by", {
            "id": "5e4b7a2c6b1f2a0012345678", "email": "ada@acme.test", "firstName": "Ada",
            "lastName": "Lovelace"}),),
        account=("5e4b7a2c6b1f2a0012345678", "ada@acme.test"),
        proxy=("sites", "https://api.webflow.com/v2/sites"),
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": "Invalid authorization code"},
            says="Webflow no longer accepts this sign-in"),
    ),
)

for family in FAMILIES:
    CASES += family

CASES_BY_SLUG = {case.slug: case for case in reversed(CASES)}  # the first case of each

_HOST = re.compile(r"https://([A-Za-z0-9.-]+)")


def provider_hosts() -> list[str]:
    """Every host the cases name: the quirk emulator answers for each of them."""
    hosts: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            hosts.update(_HOST.findall(value))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    for case in CASES:
        walk([case.authorize_url, case.token_url, case.token_fields, case.settings,
              case.proxy, [d.url for d in case.documents], [d.json for d in case.documents]])
    return sorted(hosts)
