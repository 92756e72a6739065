"""The provider template schema: what a provider's YAML file may say, checked when it is loaded.

A template is data, not code. Everything that differs between providers — endpoints, scopes,
per-connector settings, how to read the connected account, error wording, the setup guide — is
written in the template, so the OAuth code never needs an ``if provider == ...`` branch.

Every model forbids unknown keys: a misspelt key in a YAML file would otherwise be dropped
silently and only fail at some end user's first connect. Checks that span several fields (a
``{placeholder}`` must name a declared setting, default scopes must be listed scopes) raise
:class:`FieldError`, which carries the path of the offending field so the loader can say
exactly where a template is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, Self, cast
from urllib.parse import quote, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    StringConstraints,
    model_validator,
)

from xkit.dotpath import dig
from xkit.providers.marks import contrast_color, simple_icon

# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------

AuthType = Literal["oauth2", "oauth2_admin_consent", "api_key", "basic", "jwt_bearer",
                   "client_credentials"]
TokenAuthMethod = Literal["client_secret_post", "client_secret_basic"]
TOKEN_AUTH_METHODS: tuple[TokenAuthMethod, ...] = ("client_secret_post", "client_secret_basic")

#: Which optional blocks each auth type uses; a block belonging to another type is refused.
AUTH_TYPE_BLOCKS: dict[str, tuple[str, ...]] = {
    "oauth2": ("oauth2",),
    "oauth2_admin_consent": ("oauth2", "admin_consent"),
    "api_key": ("api_key",),
    "basic": ("basic",),
    "jwt_bearer": ("jwt_bearer",),
    "client_credentials": ("client_credentials",),
}
#: Every auth type's own block, in the order the loader checks them.
AUTH_BLOCKS = ("oauth2", "admin_consent", "api_key", "basic", "jwt_bearer", "client_credentials")

#: Parameters xkit itself sends; a template overriding them could break the flow or its security.
RESERVED_AUTHORIZE_PARAMS = frozenset({
    "client_id", "redirect_uri", "response_type", "state", "scope", "code_challenge",
    "code_challenge_method",
})
RESERVED_TOKEN_PARAMS = frozenset({
    "client_id", "client_secret", "code", "code_verifier", "grant_type", "redirect_uri",
    "refresh_token",
})
#: What the client credentials grant sends itself (the scope comes from the connector's).
RESERVED_CLIENT_CREDENTIALS_PARAMS = frozenset({
    "client_id", "client_secret", "grant_type", "scope",
})

_SLUG_RE = r"^[a-z0-9][a-z0-9-]*$"
_NAME_RE = r"^[a-z][a-z0-9_]*$"
_ONE_LINE_RE = r"^[^\r\n]+$"
_COLOR_RE = r"^#[0-9a-fA-F]{6}$"
# RFC 6749 section 3.3: a scope token is printable ASCII without space, '"' or '\'.
_SCOPE_RE = r"^[\x21\x23-\x5b\x5d-\x7e]+$"
_DOT_PATH_RE = r"^[^.\s]+(\.[^.\s]+)*$"
_HEADER_RE = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"

#: Plain words for the patterns below, used by the loader instead of the raw regex.
PATTERN_HINTS: dict[str, str] = {
    _SLUG_RE: "must be lowercase letters, digits and '-', starting with a letter or digit",
    _NAME_RE: "must be lowercase letters, digits and '_', starting with a letter",
    _ONE_LINE_RE: "must be a single line",
    _COLOR_RE: "must be a colour written like #0a64ad",
    _SCOPE_RE: "must be a scope name without spaces, quotes or backslashes",
    _DOT_PATH_RE: "must be a dot path such as user.id or emails.0",
    _HEADER_RE: "must be an HTTP header name",
}

Slug = Annotated[str, StringConstraints(pattern=_SLUG_RE, max_length=64)]
Name = Annotated[str, StringConstraints(pattern=_NAME_RE, max_length=64)]
OneLine = Annotated[str, StringConstraints(
    strip_whitespace=True, min_length=1, max_length=200, pattern=_ONE_LINE_RE)]
Color = Annotated[str, StringConstraints(pattern=_COLOR_RE)]
ScopeToken = Annotated[str, StringConstraints(pattern=_SCOPE_RE)]
DotPath = Annotated[str, StringConstraints(pattern=_DOT_PATH_RE)]
HeaderName = Annotated[str, StringConstraints(pattern=_HEADER_RE)]

_SCOPE_TOKEN = re.compile(_SCOPE_RE)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(_NAME_RE)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::(\d{{1,5}}))?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class FieldError(ValueError):
    """A template mistake found by a cross-field check, with the path of the field at fault.

    ``path`` is relative to the model that raised it (``"oauth2.token_url"``); the loader
    prefixes the model's own location and the file name.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def _as_list(value: Any) -> Any:
    """Let YAML say ``id: sub`` where a list is expected; one item is a list of one."""
    return [value] if isinstance(value, str) else value


def _shorten(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------
# Value checks (shared by template loading and by the API, so both refuse the same things)
# --------------------------------------------------------------------------------------------


def check_host(value: str) -> str:
    """A host name or IP with an optional port — nothing else, so it can only ever fill the
    host part of a URL (no scheme, path, user info or whitespace that could redirect a request).
    Returned lower-cased."""
    match = _HOST.fullmatch(value)
    if not match or len(value) > 260:
        raise ValueError(f"must be a host name with an optional port, such as "
                         f"login.example.com or 127.0.0.1:8443, not {_shorten(value)!r}")
    port = match.group(1)
    if port is not None and not 0 < int(port) < 65536:
        raise ValueError(f"port {port} is out of range")
    return value.lower()


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})


def check_https_url(value: str) -> str:
    """An absolute https URL with a host and no user info or fragment.

    Plain http is refused — tokens and client secrets travel over these URLs — except to a
    loopback host, which never leaves the machine (a provider, or the sandbox, run locally).
    """
    if _CONTROL.search(value) or " " in value:
        raise ValueError("must not contain spaces or control characters")
    parts = urlsplit(value)
    loopback_http = parts.scheme == "http" and parts.netloc.rsplit(":", 1)[0] in LOOPBACK_HOSTS
    if (parts.scheme != "https" and not loopback_http) or not parts.netloc:
        raise ValueError(f"must be an https:// URL, not {_shorten(value)!r}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("must not contain user info (user@host)")
    if parts.fragment or value.endswith("#"):
        raise ValueError("must not contain a #fragment")
    check_host(parts.netloc)
    return value


HttpsUrl = Annotated[str, AfterValidator(check_https_url)]


# --------------------------------------------------------------------------------------------
# Placeholders: "{name}" inside template strings
# --------------------------------------------------------------------------------------------


def placeholders(text: str) -> list[str]:
    """The ``{name}`` placeholders in ``text``, in order.

    Raises ValueError for a stray brace or a malformed name, so that ``{tenant`` or
    ``{Tenant}`` is caught when the template loads rather than sent to a provider.
    """
    names = _PLACEHOLDER.findall(text)
    if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
        raise ValueError("has an unmatched '{' or '}'")
    for name in names:
        if not _NAME.fullmatch(name):
            raise ValueError(f"placeholder {{{name}}} is not a valid setting name")
    return names


def fill(text: str, value_of: Callable[[str], str]) -> str:
    """Replace each ``{name}`` in ``text`` with ``value_of(name)``."""
    return _PLACEHOLDER.sub(lambda match: value_of(match.group(1)), text)


class SettingError(ValueError):
    """A setting (or collect field) value refused; ``name`` says which one."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class MissingValue(ValueError):
    """A placeholder's setting has no value (optional and unset, with no default)."""


# --------------------------------------------------------------------------------------------
# Small parts of a template
# --------------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Mark(_Model):
    """How a provider looks on catalog cards and in the dashboard's picker.

    ``icon`` names the brand's logo in the Simple Icons set (installed with xkit, see
    :mod:`xkit.providers.marks`); its colour becomes ``background`` unless the template gives
    one. Without an icon — the set has no Microsoft, Slack or Salesforce logos, at those
    brands' request — the mark is our glyph for the template's first category on
    ``background``, which is then required. ``foreground`` (the logo or glyph) defaults to
    white or near-black, whichever reads better. ``text`` is the short name shown where no
    picture can be (and by older clients).
    """

    icon: str | None = Field(None, max_length=64,
                             description="a Simple Icons slug, e.g. gmail (simpleicons.org)")
    text: str = Field(min_length=1, max_length=3)
    background: Color
    foreground: Color

    @model_validator(mode="before")
    @classmethod
    def _colours_from_icon(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        icon_slug = data.get("icon")
        if isinstance(icon_slug, str):
            icon = simple_icon(icon_slug)
            if icon is None:
                raise FieldError("icon", f"{_shorten(icon_slug)!r} is not an icon of the "
                                         "installed Simple Icons set (see simpleicons.org for "
                                         "slugs); leave it out to show the category's glyph")
            data.setdefault("background", icon.color)
        elif not data.get("background"):
            raise FieldError("background", "is required without an icon: the brand colour "
                                           "the category's glyph is drawn on")
        background = data.get("background")
        if isinstance(background, str) and re.fullmatch(_COLOR_RE, background) \
                and not data.get("foreground"):
            data["foreground"] = contrast_color(background)
        return data


class Option(_Model):
    value: str = Field(min_length=1)
    label: OneLine


class _InputField(_Model):
    """What settings and collect fields share: a named, labelled value checked on input."""

    name: Name
    label: OneLine
    description: str = ""
    required: bool = False
    options: list[Option] = []
    pattern: str | None = None

    def _check_common(self, value: str, *, choice: bool) -> str:
        if _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        if len(value) > 2000:
            raise ValueError("is too long")
        if choice and value not in {option.value for option in self.options}:
            allowed = ", ".join(option.value for option in self.options)
            raise ValueError(f"{_shorten(value)!r} is not one of: {allowed}")
        if self.pattern is not None and not _compiled(self.pattern).fullmatch(value):
            raise ValueError(f"{_shorten(value)!r} is not in the expected format")
        return value

    def _validate_definition(self) -> None:
        if self.pattern is not None:
            try:
                _compiled(self.pattern)
            except re.error as exc:
                raise FieldError("pattern", f"is not a valid regular expression: {exc}") from None
        seen: set[str] = set()
        for index, option in enumerate(self.options):
            if option.value in seen:
                raise FieldError(f"options.{index}.value", f"{option.value!r} is listed twice")
            seen.add(option.value)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class Setting(_InputField):
    """A per-connector value the developer sets in the dashboard's *Connector Settings*.

    Settings fill ``{name}`` placeholders in the template's URLs (a Microsoft tenant, a
    national cloud's host). For ``choice`` the options are the only allowed values; for the
    other types they are suggestions — a host setting suggests the national clouds yet still
    accepts a test emulator's ``127.0.0.1:8443``.
    """

    type: Literal["host", "choice", "string", "url"] = "string"
    default: str | None = None

    @model_validator(mode="after")
    def _definition_is_consistent(self) -> Self:
        self._validate_definition()
        if self.type == "choice" and not self.options:
            raise FieldError("options", "a choice setting needs at least one option")
        for index, option in enumerate(self.options):
            try:
                self.check(option.value)
            except ValueError as exc:
                raise FieldError(f"options.{index}.value", str(exc)) from None
        if self.default is not None:
            try:
                self.check(self.default)
            except ValueError as exc:
                raise FieldError("default", str(exc)) from None
        return self

    @property
    def always_has_value(self) -> bool:
        return self.required or bool(self.default)

    def check(self, value: str) -> str:
        """The value as it will be stored (hosts lower-cased), or ValueError saying why not."""
        if self.type == "host":
            value = check_host(value)
        elif self.type == "url":
            value = check_https_url(value)
        return self._check_common(value, choice=self.type == "choice")


class CollectField(_InputField):
    """A value asked of the end user when connecting: an API key, a store's subdomain.

    Collect fields may fill ``{name}`` placeholders too (``https://{subdomain}.example.com``),
    except ``secret`` ones, which never appear in a URL.
    """

    type: Literal["text", "secret", "choice"] = "text"
    required: bool = True
    suffix: str | None = Field(None, description="shown after the input, e.g. '.zendesk.com'")

    @model_validator(mode="after")
    def _definition_is_consistent(self) -> Self:
        self._validate_definition()
        if self.type == "choice" and not self.options:
            raise FieldError("options", "a choice field needs at least one option")
        return self

    @property
    def always_has_value(self) -> bool:
        return self.required

    def check(self, value: str) -> str:
        try:
            return self._check_common(value, choice=self.type == "choice")
        except ValueError:
            if self.type == "secret":  # never echo a secret back in an error message
                raise ValueError("is not in the expected format") from None
            raise


InputField = Setting | CollectField


class Scope(_Model):
    name: ScopeToken
    description: OneLine
    required: bool = Field(False, description="always requested; the dashboard shows it locked")
    resource: str | None = Field(
        None, description="the API this permission is for, where a provider issues each token "
                          "for one API only (Microsoft: Graph, or Exchange Online's IMAP/POP/"
                          "SMTP); scopes of two resources cannot be asked for together, scopes "
                          "without one (OpenID Connect's) go with any")


# --------------------------------------------------------------------------------------------
# Connect-flow quirks: what providers do beyond RFC 6749, written as data
# --------------------------------------------------------------------------------------------


class ScopeParam(_Model):
    """Scopes that travel in an authorize parameter of their own.

    Slack asks for bot scopes in ``scope`` and user scopes in ``user_scope``, and the same
    name may exist in both. The template lists user scopes with a prefix (``user:chat:write``)
    that keeps them apart in xkit; the prefix is removed when they are sent.
    """

    param: Name = Field(description="the authorize parameter, e.g. user_scope")
    prefix: str = Field(min_length=1, max_length=20, pattern=r"^[a-z][a-z0-9_-]*:$",
                        description="scopes named with this prefix go in this parameter")
    granted: DotPath | None = Field(
        None, description="where the token response lists these scopes once granted")


class TokenResponseFields(_Model):
    """Where the token response holds each value; dot paths tried in order.

    Slack answers a user-only installation with the token under ``authed_user``, not at the
    top level, so its template says ``access_token: [access_token, authed_user.access_token]``.
    """

    access_token: Annotated[list[DotPath], BeforeValidator(_as_list),
                            Field(min_length=1)] = ["access_token"]
    refresh_token: Annotated[list[DotPath], BeforeValidator(_as_list),
                             Field(min_length=1)] = ["refresh_token"]
    expires_in: Annotated[list[DotPath], BeforeValidator(_as_list),
                          Field(min_length=1)] = ["expires_in"]
    # A refusal: RFC 6749 puts the code in `error`; some providers answer
    # {"errors": [{"code": ..., "message": ...}]} or {"error": {"code": ...}} instead.
    error: Annotated[list[DotPath], BeforeValidator(_as_list),
                     Field(min_length=1)] = ["error"]
    error_description: Annotated[list[DotPath], BeforeValidator(_as_list),
                                 Field(min_length=1)] = ["error_description"]


class LookupSpec(_Model):
    """A call xkit makes with the new access token before the connection is active.

    Some providers only say where an account's data lives after the token is issued:
    Mailchimp's data centre, Atlassian's cloud id, Xero's tenants. Each lookup's JSON answer
    is a *source* that ``extras`` and ``account`` can read. Lookups run in the order listed,
    and a lookup's URL may use extras found before it; one whose placeholder is empty is
    skipped.
    """

    name: Name
    url: str
    method: Literal["GET", "POST"] = "GET"
    headers: dict[HeaderName, str] = {}
    body: dict[str, Any] | None = Field(
        None, description="sent as JSON (a GraphQL query, say); never templated")
    token_prefix: str | None = Field(
        None, pattern=r"^[\x21-\x7e ]*$",
        description="overrides api.token_prefix for this call (Mailchimp's 'OAuth ')")


ExtraType = Literal["string", "url", "host", "json"]
WHOLE_DOCUMENT = "$"  # an extra's path for the whole answer of its source (a lookup's list)
RESERVED_SOURCES = ("token", "callback")


class ExtraSpec(_Model):
    """A value the provider tells xkit while connecting, kept on the authorization.

    Extras come from the token response (``source: token``: Salesforce's ``instance_url``),
    the callback's query (``source: callback``: QuickBooks' ``realmId``) or a lookup (its
    name). They are handed to backends with the connection and, unless ``json`` or
    ``secret``, fill ``{name}`` placeholders in lookups, the account URL and the API block —
    checked like settings first (a ``url`` must be https, a ``pattern`` must match), so a
    provider's answer can never point the proxy somewhere unexpected.
    """

    name: Name
    source: Name = Field("token", description="token, callback, or a lookup's name")
    path: DotPath | None = Field(
        None, description="where in the source; defaults to name; $ is the whole answer")
    type: ExtraType = "string"
    required: bool = Field(False, description="the connection fails without it")
    secret: bool = Field(False, description="kept encrypted (Slack's user token)")
    pattern: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _definition_is_consistent(self) -> Self:
        if self.pattern is not None:
            if self.type == "json":
                raise FieldError("pattern", "a json extra is kept as it is; it has no pattern")
            try:
                _compiled(self.pattern)
            except re.error as exc:
                raise FieldError("pattern", f"is not a valid regular expression: {exc}") from None
        return self

    @property
    def where(self) -> str:
        return self.path or self.name

    def read(self, document: Any) -> Any:
        """This extra's raw value in its source's document, or None."""
        return document if self.where == WHOLE_DOCUMENT else dig(document, self.where)

    @property
    def always_has_value(self) -> bool:
        return self.required

    @property
    def placeholder(self) -> bool:
        """Whether it may fill ``{name}`` placeholders: plain, non-secret values only."""
        return not self.secret and self.type != "json"

    def check(self, value: Any) -> Any:
        """The value as kept, or ValueError saying why not (never quoting a secret)."""
        if self.type == "json":
            return value
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError("is not a text value")
        text = str(value)
        try:
            if _CONTROL.search(text) or len(text) > 2000:
                raise ValueError("is not a plain value")
            if self.type == "host":
                text = check_host(text)
            elif self.type == "url":
                text = check_https_url(text)
            if self.pattern is not None and not _compiled(self.pattern).fullmatch(text):
                raise ValueError(f"{_shorten(text)!r} is not in the expected format")
        except ValueError:
            if self.secret:
                raise ValueError("is not in the expected format") from None
            raise
        return text


#: Anything a ``{placeholder}`` may name.
PlaceholderField = Setting | CollectField | ExtraSpec


class OAuth2Spec(_Model):
    """The authorization-code flow's endpoints and the provider's quirks.

    URLs may hold ``{setting}`` placeholders. ``token_auth_method`` is either a method or a
    single ``{setting}`` placeholder naming a *choice* setting whose options are methods — the
    one way a setting feeds a non-URL field, kept explicit so it is visible in the file.
    """

    authorize_url: str
    token_url: str
    revoke_url: str | None = None
    pkce: bool = True
    token_auth_method: str = "client_secret_basic"
    scope_separator: str = Field(" ", min_length=1, max_length=1)
    authorize_params: dict[str, str] = {}
    token_params: dict[str, str] = {}
    refresh_token_expected: bool = True
    token_extras: list[str] = Field(
        [], description="token response fields to keep and hand to backends (instance_url)")
    error_code_pattern: str | None = Field(
        None, description="finds a provider-specific code (AADSTS70008) in error_description")
    # -- how the provider departs from RFC 6749 (see "Connect-flow quirks" below) --
    token_request_format: Literal["form", "json"] = Field(
        "form", description="json: the token endpoint wants a JSON body (Notion, Zendesk)")
    scope_in_token_request: bool = Field(
        False, description="send the scope again with the code (Zendesk documents it)")
    scope_params: list[ScopeParam] = Field(
        [], description="scopes sent in a parameter of their own (Slack's user_scope)")
    token_response: TokenResponseFields = Field(
        default_factory=lambda: TokenResponseFields(),
        description="where the token response holds the token when not at the top level")

    @model_validator(mode="after")
    def _parts_are_consistent(self) -> Self:
        method = self.token_auth_method
        if method not in TOKEN_AUTH_METHODS and not _PLACEHOLDER.fullmatch(method):
            raise FieldError("token_auth_method",
                             f"must be one of {', '.join(TOKEN_AUTH_METHODS)} or a {{setting}}")
        for key in self.authorize_params:
            if key in RESERVED_AUTHORIZE_PARAMS:
                raise FieldError(f"authorize_params.{key}", "is set by xkit and cannot be changed")
        for key in self.token_params:
            if key in RESERVED_TOKEN_PARAMS:
                raise FieldError(f"token_params.{key}", "is set by xkit and cannot be changed")
        if self.error_code_pattern is not None:
            try:
                _compiled(self.error_code_pattern)
            except re.error as exc:
                raise FieldError("error_code_pattern",
                                 f"is not a valid regular expression: {exc}") from None
        seen_params: set[str] = set()
        for index, scope_param in enumerate(self.scope_params):
            where = f"scope_params.{index}.param"
            if scope_param.param in RESERVED_AUTHORIZE_PARAMS | set(self.authorize_params):
                raise FieldError(where, f"{scope_param.param!r} is already sent")
            if scope_param.param in seen_params:
                raise FieldError(where, f"{scope_param.param!r} is listed twice")
            seen_params.add(scope_param.param)
        return self


class AdminConsentSpec(_Model):
    """An organization's administrator grants the app access for the whole tenant (Microsoft's
    admin consent); xkit then gets app-only tokens for that tenant with the client credentials
    grant (RFC 6749 section 4.4).

    The flow has two legs. The admin first signs in through ``oauth2.authorize_url`` with
    ``sign_in_scopes``: the id_token from the code exchange says, verifiably, which tenant they
    belong to (``tenant_claim``). Only then are they sent to ``url`` to approve the app's
    application permissions. The tenant the consent callback names (``tenant_param``) must be
    that same tenant, because anyone could type another tenant's id into a callback URL.
    Tokens come from ``oauth2.token_url`` with the setting ``tenant_setting`` replaced by the
    tenant id, asking for ``scope``.
    """

    url: str = Field(description="the admin consent page, e.g. https://{login_host}/{tenant}/"
                                 "v2.0/adminconsent")
    scope: str = Field(description="what the consent and the client credentials grant ask for, "
                                   "e.g. https://{graph_host}/.default")
    tenant_setting: Name = Field(description="the setting that names the tenant in URLs; after "
                                             "consent it holds the consenting tenant's id")
    sign_in_scopes: list[ScopeToken] = Field(["openid", "profile"], min_length=1)
    tenant_claim: DotPath = Field("tid", description="id_token claim with the user's tenant")
    tenant_param: str = Field("tenant", min_length=1,
                              description="consent callback parameter naming the tenant")
    params: dict[str, str] = {}

    @model_validator(mode="after")
    def _parts_are_consistent(self) -> Self:
        if "openid" not in self.sign_in_scopes:
            raise FieldError("sign_in_scopes", "must include openid: the id_token says which "
                                               "tenant the admin belongs to")
        for key in self.params:
            if key in RESERVED_AUTHORIZE_PARAMS:
                raise FieldError(f"params.{key}", "is set by xkit and cannot be changed")
        return self


class ApiKeySpec(_Model):
    """How a key collected from the end user is attached to API requests (and to the
    verification request, the template's account URL, before the connection is active)."""

    placement: Literal["header", "query"] = "header"
    name: str = Field(min_length=1, max_length=100, description="header or query parameter name")
    value: str = Field(min_length=1, description="e.g. 'Bearer {api_key}'")

    @model_validator(mode="after")
    def _name_fits_placement(self) -> Self:
        pattern = _HEADER_RE if self.placement == "header" else r"^[A-Za-z0-9._~-]+$"
        if not re.fullmatch(pattern, self.name):
            what = "an HTTP header name" if self.placement == "header" else \
                "a query parameter name (letters, digits, '.', '_', '~', '-')"
            raise FieldError("name", f"must be {what}")
        if self.placement == "header" and self.name.lower() in _HOP_BY_HOP_HEADERS:
            raise FieldError("name", f"{self.name} cannot carry a credential")
        return self


class BasicSpec(_Model):
    """HTTP Basic credentials built from collect fields (e.g. '{email}/token', '{api_token}').
    An empty password is allowed: some APIs take the key as the user name alone."""

    username: str = Field(min_length=1)
    password: str = ""


class JwtBearerSpec(_Model):
    """RFC 7523 JWT bearer grant (Google service accounts): the developer uploads the service
    account's key for the connector; xkit signs a short-lived assertion and trades it at
    ``token_url`` — for the service account itself, or for a user it acts as.

    The user to act as (``sub``, for domain-wide delegation) is always chosen by the
    developer's backend when it asks for a token, never typed by an end user: with
    delegation a service account can act as anyone in the domains that allowed it, so an
    address typed in a popup would prove nothing.
    """

    token_url: str
    audience: str | None = Field(None, description="the assertion's aud; defaults to token_url")
    key_format: Literal["google_service_account"] = "google_service_account"
    assertion_lifetime_seconds: int = Field(3600, ge=60, le=3600)


class ClientCredentialsSpec(_Model):
    """RFC 6749 section 4.4, for machine-to-machine APIs: the connector's client ID and secret
    get tokens for the app itself, per connection, re-requested when they near expiry (there
    is no refresh token).

    Per-tenant values (Zoom's account id, a tenant's subdomain) are collect fields or settings
    placed in ``token_url`` or ``token_params``. ``grant_type`` is ``client_credentials``
    unless the provider named its own (Zoom's ``account_credentials``). The connector's scopes,
    if any, go in ``scope`` joined by ``scope_separator``; none means no ``scope`` parameter
    (the provider grants what the app was configured with).
    """

    token_url: str
    grant_type: str = Field("client_credentials", pattern=r"^[A-Za-z0-9_.:/-]{1,100}$")
    token_auth_method: str = "client_secret_basic"
    scope_separator: str = Field(" ", min_length=1, max_length=1)
    token_params: dict[str, str] = {}
    token_request_format: Literal["form", "json"] = Field(
        "form", description="json: the token endpoint wants a JSON body")
    error_code_pattern: str | None = Field(
        None, description="finds a provider-specific code inside error_description")

    @model_validator(mode="after")
    def _parts_are_consistent(self) -> Self:
        method = self.token_auth_method
        if method not in TOKEN_AUTH_METHODS and not _PLACEHOLDER.fullmatch(method):
            raise FieldError("token_auth_method",
                             f"must be one of {', '.join(TOKEN_AUTH_METHODS)} or a {{setting}}")
        for key in self.token_params:
            if key in RESERVED_CLIENT_CREDENTIALS_PARAMS:
                raise FieldError(f"token_params.{key}", "is set by xkit and cannot be changed")
        if self.error_code_pattern is not None:
            try:
                _compiled(self.error_code_pattern)
            except re.error as exc:
                raise FieldError("error_code_pattern",
                                 f"is not a valid regular expression: {exc}") from None
        return self


_HOP_BY_HOP_HEADERS = frozenset({
    "connection", "content-length", "host", "keep-alive", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade",
})


class ApiSpec(_Model):
    """Where the proxy sends a connection's API calls, and headers every call needs.

    The access token goes in ``token_header`` after ``token_prefix`` — ``Authorization:
    Bearer ...`` unless the provider wants otherwise (Shopify's ``X-Shopify-Access-Token``).
    The account lookup and the other lookups send it the same way.
    """

    base_url: str
    headers: dict[HeaderName, str] = {}
    token_header: HeaderName = "Authorization"
    token_prefix: str = Field("Bearer ", pattern=r"^[\x21-\x7e ]*$")


#: Where the account is read from: the account URL, the id_token, the token response, the
#: extras, or the name of one of the template's ``lookups``.
AccountSource = Annotated[str, StringConstraints(pattern=_NAME_RE, max_length=64)]
BUILTIN_ACCOUNT_SOURCES = ("url", "id_token", "token_response", "extras")


@dataclass(frozen=True)
class AccountInfo:
    """Who connected: a stable id (reconnects must match it) and a label people recognise."""

    id: str | None
    label: str | None


class AccountSpec(_Model):
    """How to learn which provider account was connected, right after the token exchange.

    ``source`` lists where to look, in order; the first *available* one is used — ``url``
    when its placeholders all have values, ``id_token`` when the token response has one,
    ``token_response`` and ``extras`` always, a lookup's name when that lookup ran. ``id``
    and ``label`` are dot paths (``user.id``, ``emails.0``) tried in order; the first
    non-empty value wins.
    """

    source: Annotated[list[AccountSource], BeforeValidator(_as_list)] = ["url"]
    url: str | None = None
    resource: str | None = Field(
        None, description="the resource whose token can read url; a connector whose scopes are "
                          "for another resource skips url and tries the next source")
    id: Annotated[list[DotPath], BeforeValidator(_as_list), Field(min_length=1)]
    label: Annotated[list[DotPath], BeforeValidator(_as_list)] = []

    @model_validator(mode="after")
    def _url_matches_source(self) -> Self:
        if not self.source:
            raise FieldError("source", "needs at least one source")
        if len(set(self.source)) != len(self.source):
            raise FieldError("source", "lists a source twice")
        if "url" in self.source and not self.url:
            raise FieldError("url", "is required when source includes 'url'")
        if self.url and "url" not in self.source:
            raise FieldError("url", "is only used when source includes 'url'")
        return self

    def extract(self, document: Any) -> AccountInfo:
        """Read the id and label from a JSON document (API response, id_token claims...)."""
        return AccountInfo(id=_first_value(document, self.id),
                           label=_first_value(document, self.label))


def _first_value(document: Any, paths: Sequence[str]) -> str | None:
    for path in paths:
        value = dig(document, path)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, (str, int)) and str(value).strip():
            return str(value).strip()
    return None


class RefreshSpec(_Model):
    idle_lapse_days: PositiveInt | None = Field(
        None, description="the provider lets an unused refresh token lapse after this many days; "
                          "the worker refreshes idle connections before then")


@dataclass(frozen=True)
class OAuth2Endpoints:
    """A connector's OAuth endpoints with its settings filled in: what the OAuth code uses."""

    authorize_url: str
    token_url: str
    revoke_url: str | None
    token_auth_method: TokenAuthMethod
    pkce: bool
    scope_separator: str
    authorize_params: dict[str, str]
    token_params: dict[str, str]
    token_extras: tuple[str, ...] = ()
    token_request_format: Literal["form", "json"] = "form"
    scope_in_token_request: bool = False
    access_token_paths: tuple[str, ...] = ("access_token",)
    refresh_token_paths: tuple[str, ...] = ("refresh_token",)
    expires_in_paths: tuple[str, ...] = ("expires_in",)
    error_paths: tuple[str, ...] = ("error",)
    error_description_paths: tuple[str, ...] = ("error_description",)
    #: (dot path, prefix): where the token response lists granted scopes, and the prefix that
    #: xkit's name for those scopes carries (``("authed_user.scope", "user:")`` for Slack).
    granted_scope_fields: tuple[tuple[str, str], ...] = (("scope", ""),)


# --------------------------------------------------------------------------------------------
# The template
# --------------------------------------------------------------------------------------------


class MailSpec(_Model):
    """The template's mailbox API, for xkit's mail API (``docs/mail.md``): which of xkit's
    mail adapters speaks it. The adapter holds the API's shape; the template says it applies."""

    api: Literal["microsoft-graph", "gmail"]


class ProviderTemplate(_Model):
    """One provider: a YAML file in ``providers/templates`` (or an operator's directory)."""

    slug: Slug
    name: OneLine
    description: OneLine
    mark: Mark
    categories: list[Slug] = Field(min_length=1)
    docs_url: HttpsUrl
    auth_type: AuthType
    sources: list[HttpsUrl] = Field(
        [], description="the provider's pages this template was written from, cited")
    unconfirmed: dict[OneLine, OneLine] = Field(
        {}, description="what the sources did not confirm (a field or topic: why), so that "
                        "nothing guessed passes for checked")

    settings: list[Setting] = []
    collect: list[CollectField] = []

    oauth2: OAuth2Spec | None = None
    admin_consent: AdminConsentSpec | None = None
    api_key: ApiKeySpec | None = None
    basic: BasicSpec | None = None
    jwt_bearer: JwtBearerSpec | None = None
    client_credentials: ClientCredentialsSpec | None = None

    scopes: list[Scope] = []
    default_scopes: list[str] = []
    custom_scopes: bool = Field(False, description="the developer may type scopes not listed")

    api: ApiSpec | None = None
    mail: MailSpec | None = None
    account: AccountSpec | None = None
    lookups: list[LookupSpec] = []
    extras: list[ExtraSpec] = []
    errors: dict[str, OneLine] = {}
    refresh: RefreshSpec = RefreshSpec(idle_lapse_days=None)
    setup_guide: str = ""

    # -- load-time checks ------------------------------------------------------------------

    @model_validator(mode="after")
    def _template_is_consistent(self) -> Self:
        self._check_auth_blocks()
        self._check_field_names()
        self._check_scopes()
        self._check_placeholders()
        self._check_token_auth_method()
        self._check_admin_consent()
        self._check_credentials_are_verified()
        self._check_setup_guide()
        self._check_lookups_and_extras()
        if len(set(self.categories)) != len(self.categories):
            raise FieldError("categories", "lists a category twice")
        return self

    def _check_auth_blocks(self) -> None:
        wanted = AUTH_TYPE_BLOCKS[self.auth_type]
        for block in wanted:
            if getattr(self, block) is None:
                raise FieldError(block, f"is required when auth_type is {self.auth_type}")
        for block in AUTH_BLOCKS:
            if getattr(self, block) is not None and block not in wanted:
                raise FieldError(block, f"does not apply to auth_type {self.auth_type}")

    def _check_field_names(self) -> None:
        seen: set[str] = set()
        for group in ("settings", "collect", "extras"):
            for index, field in enumerate(getattr(self, group)):
                if field.name in seen:
                    raise FieldError(f"{group}.{index}.name",
                                     f"{field.name!r} is used twice (settings, collect "
                                     "fields and extras share one set of names)")
                seen.add(field.name)
        if "callback_url" in seen:
            raise FieldError("settings", "'callback_url' is reserved for the setup guide")

    def _check_scopes(self) -> None:
        names = [scope.name for scope in self.scopes]
        separator = (self.oauth2.scope_separator if self.oauth2 else
                     self.client_credentials.scope_separator if self.client_credentials else " ")
        resources = {scope.resource for scope in self.scopes if scope.resource}
        if self.account and self.account.resource and self.account.resource not in resources:
            raise FieldError("account.resource", f"no scope is for {self.account.resource!r}")
        for index, name in enumerate(names):
            if name in names[:index]:
                raise FieldError(f"scopes.{index}.name", f"{name!r} is listed twice")
            if separator in name:
                raise FieldError(f"scopes.{index}.name",
                                 f"{name!r} contains the scope separator {separator!r}")
            if self._scope_param_of(name)[1] == "":
                raise FieldError(f"scopes.{index}.name", f"{name!r} is only a prefix")
        required = set(self.required_scopes)
        for index, name in enumerate(self.default_scopes):
            if name not in names:
                raise FieldError(f"default_scopes.{index}", f"{name!r} is not in scopes")
            if name in required:
                raise FieldError(f"default_scopes.{index}",
                                 f"{name!r} is required, so it is always requested; "
                                 "list only optional scopes here")
            if name in self.default_scopes[:index]:
                raise FieldError(f"default_scopes.{index}", f"{name!r} is listed twice")
        try:
            self._check_one_resource([*self.required_scopes, *self.default_scopes])
        except ValueError as exc:
            raise FieldError("default_scopes", str(exc)) from None

    def _templated_strings(self) -> Iterator[tuple[str, str, bool, bool]]:
        """Every string that may hold placeholders: (path, text, is_url, always_needed).

        *always_needed* strings are used on every connect, so their placeholders must always
        have a value; the others (revoke URL, account URL, proxy base, extra params) are simply
        skipped when an optional setting is left empty.
        """
        if self.oauth2:
            yield "oauth2.authorize_url", self.oauth2.authorize_url, True, True
            yield "oauth2.token_url", self.oauth2.token_url, True, True
            if self.oauth2.revoke_url is not None:
                yield "oauth2.revoke_url", self.oauth2.revoke_url, True, False
            for key, value in self.oauth2.authorize_params.items():
                yield f"oauth2.authorize_params.{key}", value, False, False
            for key, value in self.oauth2.token_params.items():
                yield f"oauth2.token_params.{key}", value, False, False
        if self.admin_consent:
            yield "admin_consent.url", self.admin_consent.url, True, True
            yield "admin_consent.scope", self.admin_consent.scope, False, True
            for key, value in self.admin_consent.params.items():
                yield f"admin_consent.params.{key}", value, False, False
        if self.api_key:
            yield "api_key.value", self.api_key.value, False, True
        if self.basic:
            yield "basic.username", self.basic.username, False, True
            yield "basic.password", self.basic.password, False, True
        if self.jwt_bearer:
            yield "jwt_bearer.token_url", self.jwt_bearer.token_url, True, True
            if self.jwt_bearer.audience is not None:
                yield "jwt_bearer.audience", self.jwt_bearer.audience, False, True
        if self.client_credentials:
            spec = self.client_credentials
            yield "client_credentials.token_url", spec.token_url, True, True
            for key, value in spec.token_params.items():
                yield f"client_credentials.token_params.{key}", value, False, False
        if self.api:
            yield "api.base_url", self.api.base_url, True, False
            for key, value in self.api.headers.items():
                yield f"api.headers.{key}", value, False, False
        if self.account and self.account.url:
            yield "account.url", self.account.url, True, False
        for index, lookup in enumerate(self.lookups):
            yield f"lookups.{index}.url", lookup.url, True, False
            for key, value in lookup.headers.items():
                yield f"lookups.{index}.headers.{key}", value, False, False

    def endpoint_urls(self) -> list[tuple[str, str]]:
        """Every URL xkit may call or send a browser to, as written: (path, text)."""
        return [(path, text) for path, text, is_url, _ in self._templated_strings() if is_url]

    def _check_placeholders(self) -> None:
        fields = self._fields()
        for path, text, is_url, always_needed in self._templated_strings():
            try:
                names = placeholders(text)
            except ValueError as exc:
                raise FieldError(path, str(exc)) from None
            for position, name in enumerate(names):
                field = fields.get(name)
                if field is None:
                    raise FieldError(path, f"unknown placeholder {{{name}}}; declare a "
                                           "setting or collect field with that name")
                if isinstance(field, ExtraSpec):
                    self._check_extra_placeholder(path, field)
                if is_url and isinstance(field, CollectField) and field.type == "secret":
                    raise FieldError(path, f"{{{name}}} is secret and cannot be part of a URL")
                if always_needed and not field.always_has_value:
                    raise FieldError(path, f"{{{name}}} may be empty; make it required or "
                                           "give it a default")
                if (is_url and isinstance(field, Setting | ExtraSpec) and field.type == "url"
                        and not (position == 0 and text.startswith("{"))):
                    raise FieldError(path, f"{{{name}}} is a whole URL, so it may only start "
                                           "the string")
            if is_url:
                try:
                    check_https_url(fill(text, lambda name: _SAMPLES[fields[name].type]))
                except ValueError as exc:
                    raise FieldError(path, f"does not make a valid URL: {exc}") from None

    def _check_extra_placeholder(self, path: str, extra: ExtraSpec) -> None:
        """Extras are known only after the token exchange: not in the OAuth endpoints, and
        in a lookup only when found before it (in the token, the callback or an earlier
        lookup). Secret and json extras never fill a placeholder."""
        if not extra.placeholder:
            raise FieldError(path, f"{{{extra.name}}} is a {'secret' if extra.secret else 'json'}"
                                   " extra and cannot fill a placeholder")
        lookup_names = [lookup.name for lookup in self.lookups]
        if path.startswith(("api.", "account.")):
            return
        if path.startswith("lookups."):
            index = int(path.split(".")[1])
            known_before = {*RESERVED_SOURCES, *lookup_names[:index]}
            if extra.source in known_before:
                return
            raise FieldError(path, f"{{{extra.name}}} comes from {extra.source!r}, which this "
                                   "lookup runs before")
        raise FieldError(path, f"{{{extra.name}}} is only known after connecting; use it in "
                               "lookups, account.url or the api block")

    def _check_lookups_and_extras(self) -> None:
        names = [lookup.name for lookup in self.lookups]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise FieldError(f"lookups.{index}.name", f"{name!r} is listed twice")
            if name in RESERVED_SOURCES or name in BUILTIN_ACCOUNT_SOURCES:
                raise FieldError(f"lookups.{index}.name", f"{name!r} is reserved")
        sources = {*RESERVED_SOURCES, *names}
        for index, extra in enumerate(self.extras):
            if extra.source not in sources:
                raise FieldError(f"extras.{index}.source",
                                 f"{extra.source!r} is not token, callback or a lookup's name")
        if self.account:
            for index, source in enumerate(self.account.source):
                if source not in BUILTIN_ACCOUNT_SOURCES and source not in names:
                    known = ", ".join(BUILTIN_ACCOUNT_SOURCES)
                    raise FieldError(f"account.source.{index}",
                                     f"{source!r} is not one of {known} or a lookup's name")
        if (self.lookups or self.extras) and self.oauth2 is None:
            raise FieldError("lookups" if self.lookups else "extras",
                             "needs an OAuth token; this auth type has none")

    def _check_token_auth_method(self) -> None:
        for block in (self.oauth2, self.client_credentials):
            if block is None or block.token_auth_method in TOKEN_AUTH_METHODS:
                continue
            path = f"{'oauth2' if block is self.oauth2 else 'client_credentials'}.token_auth_method"
            name = block.token_auth_method[1:-1]
            setting = next((s for s in self.settings if s.name == name), None)
            if setting is None or setting.type != "choice":
                raise FieldError(path, f"{{{name}}} must name a choice setting")
            if not setting.always_has_value:
                raise FieldError(path, f"{{{name}}} may be empty; make it required or give it "
                                       "a default")
            for option in setting.options:
                if option.value not in TOKEN_AUTH_METHODS:
                    raise FieldError(path, f"setting {name} offers {option.value!r}, which is "
                                           f"not one of {', '.join(TOKEN_AUTH_METHODS)}")

    def _check_admin_consent(self) -> None:
        if not self.admin_consent:
            return
        name = self.admin_consent.tenant_setting
        setting = next((s for s in self.settings if s.name == name), None)
        if setting is None:
            raise FieldError("admin_consent.tenant_setting", f"{name!r} is not a setting")
        assert self.oauth2 is not None  # required for this auth type, checked above
        for path, text in (("oauth2.token_url", self.oauth2.token_url),
                           ("admin_consent.url", self.admin_consent.url)):
            if name not in placeholders(text):
                raise FieldError(path, f"must use {{{name}}}: tokens and consent are for the "
                                       "consenting tenant")

    def _check_credentials_are_verified(self) -> None:
        """API keys and passwords are checked before a connection becomes active, against the
        account URL; without one a typo would only show at the backend's first call."""
        if self.auth_type not in ("api_key", "basic"):
            return
        if not self.collect:
            raise FieldError("collect", f"{self.auth_type} templates ask the end user for their "
                                        "credentials here")
        if self.account is None or "url" not in self.account.source:
            raise FieldError("account", f"{self.auth_type} templates need an account url: xkit "
                                        "checks the credentials there before connecting")

    def _check_setup_guide(self) -> None:
        known = {setting.name for setting in self.settings} | {"callback_url"}
        for name in re.findall(r"\{([a-z][a-z0-9_]*)\}", self.setup_guide):
            if name not in known:
                raise FieldError("setup_guide", f"unknown placeholder {{{name}}}; use "
                                                "{callback_url} or a setting name")

    # -- scopes ----------------------------------------------------------------------------

    @property
    def scope_names(self) -> list[str]:
        return [scope.name for scope in self.scopes]

    @property
    def required_scopes(self) -> list[str]:
        """Scopes always requested (Microsoft's ``offline_access``): the dashboard locks them."""
        return [scope.name for scope in self.scopes if scope.required]

    def validate_scopes(self, chosen: Sequence[str]) -> None:
        """Refuse scopes this template does not list (unless it allows custom scopes),
        anything that could not travel in a scope parameter, and scopes of two resources."""
        if isinstance(chosen, str):
            raise ValueError("scopes must be a list of scope names, not a single string")
        known = set(self.scope_names)
        separator = (self.oauth2.scope_separator if self.oauth2 else
                     self.client_credentials.scope_separator if self.client_credentials else " ")
        for scope in chosen:
            if not isinstance(scope, str) or not _SCOPE_TOKEN.fullmatch(scope):
                raise ValueError(f"{_shorten(str(scope))!r} is not a valid scope name")
            if separator in scope:
                raise ValueError(f"scope {_shorten(scope)!r} contains the separator "
                                 f"{separator!r}")
            if scope not in known and not self.custom_scopes:
                raise ValueError(f"unknown scope {_shorten(scope)!r} for {self.name}")
        self._check_one_resource([*self.required_scopes, *chosen])

    def _check_one_resource(self, scopes: Sequence[str]) -> None:
        """A token is for one resource: refuse scopes of two (say, Graph's Mail.Read with
        Exchange Online's IMAP permission) with a message that says which and why."""
        resource_of = {scope.name: scope.resource for scope in self.scopes if scope.resource}
        first: dict[str, str] = {}
        for name in scopes:
            resource = resource_of.get(name)
            if resource and resource not in first:
                first[resource] = name
        if len(first) > 1:
            (one, a), (other, b) = list(first.items())[:2]
            raise ValueError(
                f"{b!r} (for {other}) cannot be combined with {a!r} (for {one}): a token is "
                "for one API, so a connector asks for one API's scopes; make a second "
                "connector for the other")

    def scope_resource(self, chosen: Sequence[str]) -> str | None:
        """The one resource the chosen scopes (with the required ones) are for, if any."""
        resource_of = {scope.name: scope.resource for scope in self.scopes}
        return next((resource_of[name] for name in self.effective_scopes(chosen)
                     if resource_of.get(name)), None)

    def effective_scopes(self, chosen: Sequence[str]) -> list[str]:
        """The scopes actually requested: required ones first, then the chosen ones, each once,
        in order."""
        self.validate_scopes(chosen)
        return list(dict.fromkeys([*self.required_scopes, *chosen]))

    def scope_param(self, chosen: Sequence[str]) -> str:
        """The ``scope`` parameter value, joined with the provider's separator."""
        return self.authorize_scopes(self.effective_scopes(chosen))[0]

    def authorize_scopes(self, requested: Sequence[str]) -> tuple[str, dict[str, str]]:
        """Requested scopes as sent: the ``scope`` value, and the parameters of
        ``oauth2.scope_params`` (``{"user_scope": "search:read"}``) with prefixes removed.
        Parameters with no scope are left out."""
        separator = (self.oauth2.scope_separator if self.oauth2 else
                     self.client_credentials.scope_separator if self.client_credentials else " ")
        main: list[str] = []
        others: dict[str, list[str]] = {}
        for scope in requested:
            param, value = self._scope_param_of(scope)
            if param is None:
                main.append(value)
            else:
                others.setdefault(param, []).append(value)
        return separator.join(main), {k: separator.join(v) for k, v in others.items()}

    def _scope_param_of(self, scope: str) -> tuple[str | None, str]:
        """(parameter, value sent) for one of xkit's scope names; None is ``scope``."""
        for scope_param in self.oauth2.scope_params if self.oauth2 else ():
            if scope.startswith(scope_param.prefix):
                return scope_param.param, scope[len(scope_param.prefix):]
        return None, scope

    # -- settings and collect fields -------------------------------------------------------

    def _fields(self) -> dict[str, PlaceholderField]:
        fields: list[PlaceholderField] = [*self.settings, *self.collect, *self.extras]
        return {field.name: field for field in fields}

    def resolve_settings(self, values: Mapping[str, str]) -> dict[str, str]:
        """A connector's settings, checked and completed with defaults.

        Raises ValueError naming the setting for an unknown name, a missing required value or
        a value of the wrong shape; the API turns that into a 4xx. Optional settings left
        empty are omitted from the result.
        """
        return _resolve(self.settings, values, kind="setting", defaults=True)

    def setting_problems(self, values: Mapping[str, str]) -> dict[str, str]:
        """Every setting :meth:`resolve_settings` would refuse (name → message), not only the
        first: a form shows them all at once."""
        problems: dict[str, str] = {}
        for setting in self.settings:
            try:
                _resolve([setting], {k: v for k, v in values.items() if k == setting.name},
                         kind="setting", defaults=True)
            except SettingError as exc:
                problems[exc.name] = str(exc)
        return problems

    def resolve_collected(self, values: Mapping[str, str]) -> dict[str, str]:
        """The end user's collect-field answers, checked the same way as settings."""
        return _resolve(self.collect, values, kind="field", defaults=False)

    # -- rendering -------------------------------------------------------------------------

    def render(self, template_url: str, settings: Mapping[str, str]) -> str:
        """Fill a URL's placeholders from a connector's settings (and collected values).

        Defaults apply to missing settings; every value is checked again, and values other
        than hosts and whole URLs are percent-encoded, so a setting can never add a path
        segment, a query or another host. Raises :class:`MissingValue` for an empty
        placeholder and ValueError for a bad value.
        """
        return fill(template_url, lambda name: self._url_piece(name, settings))

    def render_optional(self, template_url: str | None,
                        settings: Mapping[str, str]) -> str | None:
        """Like :meth:`render`, but None when there is no URL or a placeholder is empty."""
        if not template_url:
            return None
        try:
            return self.render(template_url, settings)
        except MissingValue:
            return None

    def render_text(self, text: str, settings: Mapping[str, str]) -> str:
        """Fill a non-URL string (a parameter, a header) without percent-encoding."""
        return fill(text, lambda name: self._value(name, settings))

    def oauth2_endpoints(self, settings: Mapping[str, str]) -> OAuth2Endpoints:
        """The OAuth endpoints and options for a connector with these settings."""
        if self.oauth2 is None:
            raise ValueError(f"{self.name} does not use OAuth 2.0")
        spec = self.oauth2
        return OAuth2Endpoints(
            authorize_url=self.render(spec.authorize_url, settings),
            token_url=self.render(spec.token_url, settings),
            revoke_url=self.render_optional(spec.revoke_url, settings),
            # a method, or a choice setting whose options were checked to be methods on load
            token_auth_method=cast(TokenAuthMethod,
                                   self.render_text(spec.token_auth_method, settings)),
            pkce=spec.pkce,
            scope_separator=spec.scope_separator,
            authorize_params=self._params(spec.authorize_params, settings),
            token_params=self._params(spec.token_params, settings),
            token_extras=tuple(spec.token_extras),
            token_request_format=spec.token_request_format,
            scope_in_token_request=spec.scope_in_token_request,
            access_token_paths=tuple(spec.token_response.access_token),
            refresh_token_paths=tuple(spec.token_response.refresh_token),
            expires_in_paths=tuple(spec.token_response.expires_in),
            error_paths=tuple(spec.token_response.error),
            error_description_paths=tuple(spec.token_response.error_description),
            granted_scope_fields=(("scope", ""), *((p.granted, p.prefix)
                                                   for p in spec.scope_params if p.granted)),
        )

    def client_credentials_endpoints(self, settings: Mapping[str, str]) -> OAuth2Endpoints:
        """The token endpoint and options of a client credentials connector with these
        settings (and a connection's collected values): there is no authorize URL."""
        if self.client_credentials is None:
            raise ValueError(f"{self.name} does not use the client credentials grant")
        spec = self.client_credentials
        return OAuth2Endpoints(
            authorize_url="",
            token_url=self.render(spec.token_url, settings),
            revoke_url=None,
            token_auth_method=cast(TokenAuthMethod,
                                   self.render_text(spec.token_auth_method, settings)),
            pkce=False,
            scope_separator=spec.scope_separator,
            authorize_params={},
            token_params=self._params(spec.token_params, settings),
            token_request_format=spec.token_request_format,
        )

    def api_base_url(self, settings: Mapping[str, str]) -> str | None:
        """Where the proxy sends this connector's calls; None when the proxy cannot be used."""
        return self.render_optional(self.api.base_url if self.api else None, settings)

    def api_headers(self, settings: Mapping[str, str]) -> dict[str, str]:
        """Headers every API call carries (``Notion-Version``, Xero's tenant id)."""
        return self.render_headers(self.api.headers if self.api else {}, settings)

    def render_headers(self, headers: Mapping[str, str],
                       settings: Mapping[str, str]) -> dict[str, str]:
        """Headers with placeholders filled; one whose placeholder has no value is left out."""
        return self._params(headers, settings)

    def token_header(self, access_token: str, lookup: LookupSpec | None = None) -> dict[str, str]:
        """How the access token goes to the provider's API (and to a lookup)."""
        header = self.api.token_header if self.api else "Authorization"
        prefix = self.api.token_prefix if self.api else "Bearer "
        if lookup is not None and lookup.token_prefix is not None:
            prefix = lookup.token_prefix
        return {header: f"{prefix}{access_token}"}

    @property
    def placeholder_extras(self) -> list[ExtraSpec]:
        """Extras that may fill placeholders once a connection is made."""
        return [extra for extra in self.extras if extra.placeholder]

    def account_url(self, settings: Mapping[str, str],
                    scopes: Sequence[str] = ()) -> str | None:
        """The URL to read the connected account from; None when the account comes from
        elsewhere (id_token, token response), its URL setting is empty, or the connector's
        ``scopes`` get a token for another resource than the URL's (``account.resource``)."""
        if self.account is None:
            return None
        resource = self.scope_resource(scopes) if scopes else None
        if self.account.resource and resource and resource != self.account.resource:
            return None
        return self.render_optional(self.account.url, settings)

    def render_setup_guide(self, callback_url: str,
                           settings: Mapping[str, str] | None = None) -> str:
        """The setup guide with the connector's real callback URL (and settings) filled in;
        a setting without a value stays as ``{name}``."""
        def value_of(name: str) -> str:
            if name == "callback_url":
                return callback_url
            try:
                return self._value(name, settings or {})
            except ValueError:
                return "{" + name + "}"
        return re.sub(r"\{([a-z][a-z0-9_]*)\}", lambda m: value_of(m.group(1)), self.setup_guide)

    def _params(self, params: Mapping[str, str], settings: Mapping[str, str]) -> dict[str, str]:
        """Extra parameters; one whose placeholder has no value is left out."""
        filled: dict[str, str] = {}
        for key, text in params.items():
            try:
                filled[key] = self.render_text(text, settings)
            except MissingValue:
                continue
        return filled

    def _value(self, name: str, values: Mapping[str, str]) -> str:
        field = self._fields().get(name)
        if field is None:
            raise ValueError(f"unknown placeholder {{{name}}}")
        value = values.get(name)
        if not value and isinstance(field, Setting):
            value = field.default
        if not value:
            raise MissingValue(f"{name} is not set")
        try:
            return str(field.check(value))
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None

    def _url_piece(self, name: str, values: Mapping[str, str]) -> str:
        value = self._value(name, values)
        field = self._fields()[name]
        if isinstance(field, Setting | ExtraSpec) and field.type in ("host", "url"):
            return value  # already checked to be exactly a host, or a whole https URL
        return quote(value, safe="")

    # -- errors ----------------------------------------------------------------------------

    def error_message(self, code: str) -> str | None:
        """A plain message for a provider error code, if the template has one."""
        return self.errors.get(code)

    def describe_error(self, error: str,
                       description: str | None = None) -> tuple[str, str | None]:
        """The most specific code for an OAuth error, and its message.

        Providers like Microsoft put a precise code in ``error_description`` (``AADSTS70008``)
        behind a generic ``error`` (``invalid_grant``); ``oauth2.error_code_pattern`` finds it.
        """
        block = self.oauth2 or self.client_credentials
        pattern = block.error_code_pattern if block else None
        if pattern and description:
            match = _compiled(pattern).search(description)
            if match:
                specific = match.group(0)
                message = self.errors.get(specific) or self.errors.get(error)
                return specific, message
        return error, self.errors.get(error)


_SAMPLES = {"host": "example.com", "url": "https://example.com/x", "string": "sample",
            "choice": "sample", "text": "sample", "secret": "sample"}


def _resolve(fields: Sequence[InputField], values: Mapping[str, str],
             *, kind: str, defaults: bool) -> dict[str, str]:
    declared = {field.name: field for field in fields}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        allowed = ", ".join(declared) or "none"
        raise ValueError(f"unknown {kind} {_shorten(unknown[0])!r} (allowed: {allowed})")
    resolved: dict[str, str] = {}
    for name, field in declared.items():
        value = values.get(name)
        if value is not None and not isinstance(value, str):
            raise SettingError(name, f"{kind} {name} must be a string")
        if not value and defaults and isinstance(field, Setting):
            value = field.default
        if not value:
            if field.required:
                raise SettingError(name, f"{kind} {name} is required")
            continue
        try:
            resolved[name] = field.check(value)
        except ValueError as exc:
            raise SettingError(name, f"{kind} {name}: {exc}") from None
    return resolved
