"""The OAuth protocol layer against scripted token endpoints: how each answer is read."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from xkit.oauth import OAuthClient, ProviderError, new_pkce_pair
from xkit.oauth import errors as oauth_errors

pytestmark = pytest.mark.database_independent


def _client(**options: object) -> OAuthClient:
    defaults: dict[str, object] = {
        "client_id": "cid",
        "client_secret": "csecret",
        "authorize_url": "https://login.example/authorize",
        "token_url": "https://login.example/token",
        "extras_to_keep": ("instance_url",),
    }
    return OAuthClient(**{**defaults, **options})  # type: ignore[arg-type]


def _http(handler) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def test_authorization_url_carries_scopes_state_pkce_and_extra_params() -> None:
    verifier, challenge = new_pkce_pair()
    url = _client(scope_separator=",", authorize_params={"prompt": "consent"}).authorization_url(
        redirect_uri="https://xkit.example/p/acme/callback",
        scopes=["a", "b"],
        state="st",
        code_challenge=challenge,
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query == {
        "response_type": "code",
        "client_id": "cid",
        "state": "st",
        "scope": "a,b",
        "redirect_uri": "https://xkit.example/p/acme/callback",
        "prompt": "consent",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    assert 43 <= len(verifier) <= 128


def test_pkce_off_sends_no_challenge() -> None:
    url = _client(pkce=False).authorization_url(
        redirect_uri="https://x/cb", scopes=[], state="s", code_challenge="c"
    )
    assert "code_challenge" not in url and "scope" not in url


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
async def test_code_exchange_authenticates_as_the_template_says(method: str) -> None:
    seen: dict[str, object] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["form"] = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        seen["auth"] = request.headers.get("authorization")
        return httpx.Response(
            200,
            json={
                "access_token": "at",
                "refresh_token": "rt",
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": "Mail.Read offline_access",
                "instance_url": "https://eu1.example",
                "other": 1,
            },
        )

    async with _http(handler) as http:
        tokens = await _client(token_auth_method=method).exchange_code(
            http, code="the-code", redirect_uri="https://x/cb", code_verifier="v" * 50
        )
    form = seen["form"]
    assert isinstance(form, dict)
    assert form["grant_type"] == "authorization_code" and form["code_verifier"] == "v" * 50
    if method == "client_secret_basic":
        assert seen["auth"] == "Basic " + base64.b64encode(b"cid:csecret").decode()
        assert "client_secret" not in form
    else:
        assert form["client_secret"] == "csecret" and seen["auth"] is None
    assert tokens.access_token == "at" and tokens.refresh_token == "rt"
    assert tokens.expires_in == 3599 and tokens.scopes == ["Mail.Read", "offline_access"]
    assert tokens.extras == {"instance_url": "https://eu1.example"}


async def test_refresh_without_new_refresh_token_says_so() -> None:
    async with _http(lambda r: httpx.Response(200, json={"access_token": "at2"})) as http:
        tokens = await _client().refresh(http, refresh_token="rt")
    assert tokens.refresh_token is None and tokens.scopes is None and tokens.expires_in is None


@pytest.mark.parametrize(
    ("response", "code", "transient", "revoked"),
    [
        (
            httpx.Response(
                400,
                json={
                    "error": "invalid_grant",
                    "error_description": "AADSTS70008: The refresh token has expired.",
                },
            ),
            "invalid_grant",
            False,
            True,
        ),
        (httpx.Response(400, json={"error": "invalid_grant"}), "invalid_grant", False, True),
        (httpx.Response(401, json={"error": "invalid_client"}), "invalid_client", False, False),
        (httpx.Response(503, text="<html>down</html>"), "http_503", True, False),
        (
            httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "throttled"}),
            "throttled",
            True,
            False,
        ),
        (httpx.Response(200, text="not json"), "invalid_response", True, False),
        (httpx.Response(200, json=["a"]), "invalid_response", True, False),
        (httpx.Response(200, json={"token_type": "Bearer"}), "invalid_response", True, False),
        (httpx.Response(400, text="nope"), "invalid_response", True, False),
        (
            httpx.Response(400, json={"error": "temporarily_unavailable"}),
            "temporarily_unavailable",
            True,
            False,
        ),
    ],
)
async def test_token_endpoint_answers_are_classified(
    response: httpx.Response, code: str, transient: bool, revoked: bool
) -> None:
    async with _http(lambda r: response) as http:
        with pytest.raises(ProviderError) as caught:
            await _client().refresh(http, refresh_token="rt")
    assert caught.value.code == code
    assert caught.value.transient is transient
    assert caught.value.grant_revoked is revoked
    if response.status_code == 429:
        assert caught.value.retry_after == 7


@pytest.mark.parametrize("failure", [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")])
async def test_transport_failures_are_transient(failure: httpx.HTTPError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    async with _http(handler) as http:
        with pytest.raises(ProviderError) as caught:
            await _client().exchange_code(
                http, code="c", redirect_uri="https://x/cb", code_verifier=None
            )
    assert caught.value.transient and caught.value.code in {"timeout", "connection_failed"}


async def test_errors_never_carry_the_client_secret() -> None:
    async with _http(lambda r: httpx.Response(401, json={"error": "invalid_client"})) as http:
        with pytest.raises(ProviderError) as caught:
            await _client().refresh(http, refresh_token="rt")
    assert "csecret" not in str(caught.value) + repr(caught.value)
    assert "csecret" not in repr(_client())
    assert json.dumps({"e": str(caught.value)})


async def test_json_token_requests_carry_the_scope_when_the_provider_wants_it() -> None:
    seen: dict[str, object] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["type"] = request.headers.get("content-type")
        seen["body"] = json.loads(request.content)
        seen["auth"] = request.headers.get("authorization")
        return httpx.Response(200, json={"access_token": "at", "token_type": "bearer"})

    client = _client(token_request_format="json", scope_in_token_request=True,
                     token_auth_method="client_secret_basic")
    async with _http(handler) as http:
        await client.exchange_code(http, code="c", redirect_uri="https://x/cb",
                                   code_verifier="v" * 50, scope="read write")
    assert seen["type"] == "application/json"
    assert seen["body"] == {"grant_type": "authorization_code", "code": "c",
                            "redirect_uri": "https://x/cb", "code_verifier": "v" * 50,
                            "scope": "read write"}
    assert seen["auth"] == "Basic " + base64.b64encode(b"cid:csecret").decode()


async def test_a_token_nested_in_the_answer_is_found_with_its_granted_scopes() -> None:
    """Slack's user-only installation: no top-level token, the user's under authed_user."""
    answer = {"ok": True, "team": {"id": "T1"},
              "authed_user": {"id": "U1", "access_token": "xoxp-1", "scope": "search:read",
                              "refresh_token": "xoxe-1", "expires_in": 43200}}
    client = _client(access_token_paths=("access_token", "authed_user.access_token"),
                     refresh_token_paths=("refresh_token", "authed_user.refresh_token"),
                     expires_in_paths=("expires_in", "authed_user.expires_in"),
                     granted_scope_fields=(("scope", ""), ("authed_user.scope", "user:")))
    async with _http(lambda r: httpx.Response(200, json=answer)) as http:
        tokens = await client.exchange_code(http, code="c", redirect_uri="https://x/cb",
                                            code_verifier=None)
    assert (tokens.access_token, tokens.refresh_token, tokens.expires_in) == (
        "xoxp-1", "xoxe-1", 43200)
    assert tokens.scopes == ["user:search:read"]
    assert tokens.response == answer and "xoxp-1" not in repr(tokens)


def test_extra_scope_parameters_ride_along_in_the_authorize_url() -> None:
    url = _client(scope_separator=",").authorization_url(
        redirect_uri="https://x/cb", scopes="chat:write", state="s", code_challenge=None,
        extra_params={"user_scope": "search:read"})
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["scope"] == "chat:write" and query["user_scope"] == "search:read"


@pytest.mark.parametrize(("body", "paths", "code", "description"), [
    ({"error": "invalid_grant", "error_description": "expired"},
     (("error",), ("error_description",)), "invalid_grant", "expired"),
    ({"errors": [{"code": "INVALID_CODE", "message": "The code was used"}]},
     (("error", "errors.0.code"), ("error_description", "errors.0.message")),
     "INVALID_CODE", "The code was used"),
    ({"error": {"code": 4001, "message": "bad code"}},
     (("error.code",), ("error.message",)), "4001", "bad code"),
])
def test_a_template_can_say_where_its_provider_puts_the_refusal(
        body: dict[str, object], paths: tuple[tuple[str, ...], tuple[str, ...]],
        code: str, description: str) -> None:
    refusal = oauth_errors.from_response(httpx.Response(400, json=body), paths)
    assert (refusal.code, refusal.description, refusal.transient) == (code, description, False)
