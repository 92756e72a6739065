"""Everything the emulator remembers, in memory, in one object.

The emulator is a single uvicorn process with a single event loop, and no handler awaits in the
middle of a state change, so plain dicts need no locks. ``reset()`` forgets everything; tests
that share one emulator isolate themselves by registering their own apps and users.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import REVOCATION_CODES
from .mailbox import Mailbox
from .scopes import EXCHANGE_RESOURCE, GRAPH_RESOURCE, canonical_permission

# The tenant id Microsoft uses for personal Microsoft accounts ("ID token claims reference":
# https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference, `tid`).
CONSUMERS_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"
DEFAULT_TENANT_ID = "5e3c7b1a-4d2f-4e8a-9c6b-0a1b2c3d4e5f"
DEFAULT_TENANT_DOMAIN = "xkit-emulator.onmicrosoft.com"

# The `signInAudience` values of an app registration (application manifest reference).
SIGN_IN_AUDIENCES = (
    "AzureADMyOrg",
    "AzureADMultipleOrgs",
    "AzureADandPersonalMicrosoftAccount",
    "PersonalMicrosoftAccount",
)
TENANT_KEYWORDS = ("common", "organizations", "consumers")
REDACTED = "[redacted]"
SECRET_FIELDS = frozenset(
    {
        "code",
        "client_secret",
        "code_verifier",
        "refresh_token",
        "access_token",
        "id_token",
        "password",
        "client_assertion",
    }
)
FAULT_TARGETS = ("token", "graph", "authorize")
FAULT_KINDS = ("status", "delay", "garbage")
REQUEST_LOG_LIMIT = 10_000  # oldest entries are dropped beyond this


class InvalidInput(ValueError):
    """Bad control API input; reported as a 400 with the message."""


def new_id() -> str:
    return str(uuid.uuid4())


def opaque_token(nbytes: int = 48) -> str:
    return secrets.token_urlsafe(nbytes)


def iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Settings:
    """Knobs a test may turn through ``PATCH /_emulator/settings``."""

    # "expires_in: 3599" is the value in Microsoft's own token response examples.
    access_token_lifetime: int = 3599
    # "Authorization codes are short lived. Typically, they expire after about 10 minutes."
    code_lifetime: int = 600
    # Microsoft does not revoke a refresh token when it is used ("Refresh tokens in the Microsoft
    # identity platform"); strict rotation makes reuse of a rotated one revoke the whole chain,
    # like authorization servers with reuse detection, so xkit's single-flight refresh is tested.
    strict_rotation: bool = False
    # "The default lifetime for the refresh tokens is ... 90 days for all other scenarios.
    # Refresh tokens replace themselves with a fresh token upon every use": one left unused
    # for longer is refused with AADSTS700082 ("expired due to inactivity").
    refresh_token_max_inactive_days: float = 90.0
    # How long Graph takes over a mailbox request: lets a test hold requests in progress (to
    # meet the mailbox concurrency limit) and a benchmark see a provider's latency.
    graph_latency_seconds: float = 0.0


@dataclass
class Tenant:
    id: str
    domains: list[str]
    display_name: str = "xkit emulator"


@dataclass
class App:
    """An app registration: what the developer configured in the Azure portal."""

    client_id: str
    secrets: list[str]
    redirect_uris: list[str]
    sign_in_audience: str
    home_tenant_id: str
    display_name: str
    # "API permissions" configured on the registration, consented to when `.default` is asked
    # for with no prior consent.
    required_permissions: list[str]
    # Application permissions (app roles) configured on the registration: what an admin
    # grants for the whole tenant on the admin consent page, and what app-only tokens carry.
    application_permissions: list[str] = field(default_factory=list)

    @property
    def is_public(self) -> bool:
        return not self.secrets

    def public_view(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class User:
    id: str
    display_name: str
    mail: str | None
    user_principal_name: str
    tenant_id: str
    given_name: str | None = None
    surname: str | None = None
    password: str | None = None
    auto_consent: bool = False
    # A directory role that may grant tenant-wide admin consent (Global or Privileged Role
    # Administrator, or Cloud Application Administrator).
    is_admin: bool = False

    @property
    def personal(self) -> bool:
        return self.tenant_id == CONSUMERS_TENANT_ID

    def graph_profile(self) -> dict[str, Any]:
        """The default property set of Graph's ``GET /me`` ("Get user" reference)."""
        return {
            "businessPhones": [],
            "displayName": self.display_name,
            "givenName": self.given_name,
            "jobTitle": None,
            "mail": self.mail,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": None,
            "surname": self.surname,
            "userPrincipalName": self.user_principal_name,
            "id": self.id,
        }

    def matches_login(self, login: str) -> bool:
        wanted = login.strip().lower()
        return wanted in {self.user_principal_name.lower(), (self.mail or "").lower()}

    def public_view(self) -> dict[str, Any]:
        view = asdict(self)
        view["password"] = REDACTED if self.password else None
        return view


@dataclass
class AuthorizeRequest:
    """A validated ``/authorize`` request waiting for the user on the sign-in page."""

    id: str
    tenant_segment: str
    client_id: str
    redirect_uri: str
    response_mode: str
    state: str | None
    oidc_scopes: tuple[str, ...]
    graph_scopes: tuple[str, ...]
    default_scope: bool
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    login_hint: str | None
    prompt: str | None
    created_at: float
    exchange_scopes: tuple[str, ...] = ()

    @property
    def resource(self) -> str:
        return EXCHANGE_RESOURCE if self.exchange_scopes else GRAPH_RESOURCE


@dataclass
class AuthorizationCode:
    value: str
    client_id: str
    user_id: str
    redirect_uri: str
    tenant_segment: str
    oidc_scopes: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    issued_at: float
    redeemed: bool = False
    resource: str = GRAPH_RESOURCE


@dataclass
class RefreshToken:
    value: str
    client_id: str
    user_id: str
    oidc_scopes: tuple[str, ...]
    family: str
    issued_at: float
    rotated: bool = False
    revoked_code: int | None = None
    resource: str = GRAPH_RESOURCE


@dataclass
class ConsentRequest:
    """A validated ``/adminconsent`` request waiting for an administrator on the page."""

    id: str
    tenant_segment: str
    client_id: str
    redirect_uri: str
    state: str | None
    scope: str
    created_at: float


@dataclass
class AccessToken:
    """``user_id`` is None for an app-only token (client credentials), which carries the
    application permissions granted in ``tenant_id`` instead of a user's delegated ones."""

    value: str
    client_id: str
    user_id: str | None
    permissions: frozenset[str]
    expires_at: float
    tenant_id: str | None = None
    resource: str = GRAPH_RESOURCE


@dataclass
class Fault:
    """A one-shot (or N-shot) misbehaviour for the next matching requests."""

    id: str
    target: str
    kind: str
    status: int
    retry_after: int | None
    seconds: float
    remaining: int
    grant_type: str | None
    path: str | None
    # Extra response headers, e.g. one a proxy in front of the provider would add.
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, target: str, grant_type: str | None, path: str | None) -> bool:
        if self.target != target or self.remaining <= 0:
            return False
        if self.grant_type and self.grant_type != grant_type:
            return False
        return not (self.path and path and not path.startswith(self.path))


@dataclass
class DeltaState:
    """A delta token: whose folder, from which change on, with which $select."""

    user_id: str
    folder_id: str
    since: int
    select: list[str]


@dataclass
class DeltaPage:
    """The rest of a delta round being paged through ($skiptoken), and where it ends."""

    user_id: str
    rows: list[dict[str, Any]]
    end: DeltaState


@dataclass
class EmulatorState:
    settings: Settings = field(default_factory=Settings)
    tenants: dict[str, Tenant] = field(default_factory=dict)
    apps: dict[str, App] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    # (user id, client id) -> permissions the user has consented to for that app: Graph's by
    # name, other resources' with the resource (https://outlook.office.com/SMTP.Send).
    consents: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    pending: dict[str, AuthorizeRequest] = field(default_factory=dict)
    pending_consents: dict[str, ConsentRequest] = field(default_factory=dict)
    # (tenant id, client id) -> application permissions an admin granted for the tenant.
    admin_consents: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)
    # delta tokens and the pages of a round in progress ($deltatoken / $skiptoken values)
    delta_tokens: dict[str, DeltaState] = field(default_factory=dict)
    delta_pages: dict[str, DeltaPage] = field(default_factory=dict)
    # (client id, user id) -> requests in progress: Graph allows an app 4 per mailbox
    in_flight: Counter[tuple[str, str]] = field(default_factory=Counter)
    # message id -> its file attachments: {"id", "name", "contentType", "size"} and either
    # "contentBytes" (base64) or nothing, for content generated on the fly (large downloads).
    attachments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sent_mail: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)
    request_log: list[dict[str, Any]] = field(default_factory=list)
    log_sequence: int = 0
    clock_offset: float = 0.0

    def __post_init__(self) -> None:
        if not self.tenants:
            self.add_tenant({"id": DEFAULT_TENANT_ID, "domains": [DEFAULT_TENANT_DOMAIN]})

    # --- time -----------------------------------------------------------------------------

    def now(self) -> float:
        """Wall time plus the offset tests add with ``POST /_emulator/clock/advance``."""
        return time.time() + self.clock_offset

    # --- whole-state operations -----------------------------------------------------------

    def reset(self) -> None:
        fresh = EmulatorState()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def load_seed(self, seed: dict[str, Any]) -> None:
        """Apply a seed document: ``{"settings", "tenants", "apps", "users"}``, all optional.

        A user entry may carry ``"messages": [...]``, seeded into its mailbox.
        """
        self.update_settings(seed.get("settings") or {})
        for tenant in seed.get("tenants") or []:
            self.add_tenant(tenant)
        for app in seed.get("apps") or []:
            self.add_app(app)
        for user in seed.get("users") or []:
            created = self.add_user(user)
            for message in user.get("messages") or []:
                self.add_message(created.id, message)

    def update_settings(self, changes: dict[str, Any]) -> Settings:
        for name, value in changes.items():
            if name not in Settings.__dataclass_fields__:
                raise InvalidInput(f"unknown setting {name!r}")
            expected = type(getattr(Settings(), name))
            if expected is bool and not isinstance(value, bool):
                raise InvalidInput(f"setting {name!r} must be true or false")
            if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidInput(f"setting {name!r} must be an integer")
            setattr(self.settings, name, value)
        return self.settings

    # --- directory ------------------------------------------------------------------------

    def add_tenant(self, payload: dict[str, Any]) -> Tenant:
        tenant = Tenant(
            id=str(payload.get("id") or new_id()).lower(),
            domains=[str(d).lower() for d in payload.get("domains") or []],
            display_name=str(payload.get("display_name") or "xkit emulator"),
        )
        self.tenants[tenant.id] = tenant
        return tenant

    def resolve_tenant(self, segment: str) -> Tenant | str | None:
        """A tenant path segment: a keyword (returned as is), a known tenant, or None."""
        lowered = segment.lower()
        if lowered in TENANT_KEYWORDS:
            return lowered
        if lowered == CONSUMERS_TENANT_ID:
            return "consumers"
        for tenant in self.tenants.values():
            if lowered == tenant.id or lowered in tenant.domains:
                return tenant
        return None

    def add_app(self, payload: dict[str, Any]) -> App:
        audience = payload.get("sign_in_audience") or "AzureADandPersonalMicrosoftAccount"
        if audience not in SIGN_IN_AUDIENCES:
            raise InvalidInput(f"sign_in_audience must be one of {', '.join(SIGN_IN_AUDIENCES)}")
        if "client_secrets" in payload:
            app_secrets = [str(s) for s in payload["client_secrets"] or []]
        elif payload.get("public_client"):
            app_secrets = []
        else:
            app_secrets = [str(payload.get("client_secret") or opaque_token(30))]
        redirect_uris = [str(uri) for uri in payload.get("redirect_uris") or []]
        for uri in redirect_uris:
            validate_redirect_uri(uri, audience)
        permissions = _canonical_permissions(payload.get("required_permissions") or ["User.Read"])
        app_permissions = _canonical_permissions(payload.get("application_permissions") or [])
        home = str(payload.get("home_tenant_id") or DEFAULT_TENANT_ID).lower()
        if home not in self.tenants:
            raise InvalidInput(f"unknown home_tenant_id {home!r}; add the tenant first")
        app = App(
            client_id=str(payload.get("client_id") or new_id()),
            secrets=app_secrets,
            redirect_uris=redirect_uris,
            sign_in_audience=audience,
            home_tenant_id=home,
            display_name=str(payload.get("display_name") or "xkit test app"),
            required_permissions=permissions,
            application_permissions=app_permissions,
        )
        self.apps[app.client_id] = app
        return app

    def update_app(self, client_id: str, payload: dict[str, Any]) -> App:
        app = self.apps.get(client_id)
        if app is None:
            raise KeyError(client_id)
        merged = {**app.public_view(), **payload, "client_id": client_id}
        if "client_secret" in payload:
            merged["client_secrets"] = [payload["client_secret"]]
        elif "client_secrets" not in payload:
            merged["client_secrets"] = app.secrets
        return self.add_app(merged)

    def add_user(self, payload: dict[str, Any]) -> User:
        """Accepts Graph's property names (``displayName``, ``userPrincipalName``, ...)."""
        user_id = str(payload.get("id") or new_id())
        tenant_id = str(payload.get("tenant_id") or DEFAULT_TENANT_ID).lower()
        if tenant_id not in self.tenants and tenant_id != CONSUMERS_TENANT_ID:
            raise InvalidInput(f"unknown tenant_id {tenant_id!r}; add the tenant first")
        mail = payload.get("mail")
        upn = payload.get("userPrincipalName") or mail
        if not upn:
            raise InvalidInput("a user needs mail or userPrincipalName")
        password = payload.get("password")
        user = User(
            id=user_id,
            display_name=str(payload.get("displayName") or upn),
            mail=str(mail) if mail else None,
            user_principal_name=str(upn),
            tenant_id=tenant_id,
            given_name=payload.get("givenName"),
            surname=payload.get("surname"),
            password=None if password in (None, "auto-consent") else str(password),
            auto_consent=bool(payload.get("auto_consent")) or password == "auto-consent",
            is_admin=bool(payload.get("is_admin")),
        )
        self.users[user.id] = user
        self.mailboxes.setdefault(user.id, Mailbox())
        return user

    def find_user_by_login(self, login: str) -> User | None:
        return next((u for u in self.users.values() if u.matches_login(login)), None)

    def find_user(self, id_or_upn: str) -> User | None:
        """Graph's ``/users/{id | userPrincipalName}``."""
        return self.users.get(id_or_upn) or next(
            (u for u in self.users.values()
             if u.user_principal_name.lower() == id_or_upn.lower()), None)

    # --- consent and tokens ---------------------------------------------------------------

    def grant_consent(self, user: User, app: App, request: AuthorizeRequest) -> set[str]:
        """Record what the user agreed to and return every permission now granted.

        Microsoft adds ``User.Read`` to a first consent ("Developer's guide to requesting
        permissions and consent": offline_access and User.Read "are automatically included in
        the initial consent to an application").
        """
        key = (user.id, app.client_id)
        granted = self.consents.setdefault(key, set())
        wanted = set(request.graph_scopes)
        wanted |= {f"{EXCHANGE_RESOURCE}/{name}" for name in request.exchange_scopes}
        if request.default_scope and not granted:
            wanted |= set(app.required_permissions)
        if not granted:
            wanted.add("User.Read")
        granted |= wanted
        return granted

    def granted(self, user_id: str, client_id: str) -> set[str]:
        return self.consents.get((user_id, client_id), set())

    def issue_code(self, request: AuthorizeRequest, user: User) -> AuthorizationCode:
        code = AuthorizationCode(
            value=opaque_token(),
            client_id=request.client_id,
            user_id=user.id,
            redirect_uri=request.redirect_uri,
            tenant_segment=request.tenant_segment,
            oidc_scopes=request.oidc_scopes,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            nonce=request.nonce,
            issued_at=self.now(),
            resource=request.resource,
        )
        self.codes[code.value] = code
        return code

    def issue_access_token(
        self, user_id: str, client_id: str, resource: str = GRAPH_RESOURCE
    ) -> AccessToken:
        """A token for one resource, with every permission granted for that resource."""
        granted = self.granted(user_id, client_id)
        if resource == GRAPH_RESOURCE:
            permissions = {p for p in granted if "/" not in p}
        else:
            permissions = {p for p in granted if p.startswith(f"{resource}/")}
        token = AccessToken(
            value=opaque_token(),
            client_id=client_id,
            user_id=user_id,
            permissions=frozenset(permissions),
            expires_at=self.now() + self.settings.access_token_lifetime,
            resource=resource,
        )
        self.access_tokens[token.value] = token
        return token

    def issue_refresh_token(
        self,
        user_id: str,
        client_id: str,
        oidc_scopes: tuple[str, ...],
        family: str | None,
        resource: str = GRAPH_RESOURCE,
    ) -> RefreshToken:
        token = RefreshToken(
            value=opaque_token(64),
            client_id=client_id,
            user_id=user_id,
            oidc_scopes=oidc_scopes,
            family=family or new_id(),
            issued_at=self.now(),
            resource=resource,
        )
        self.refresh_tokens[token.value] = token
        return token

    def issue_app_token(self, tenant_id: str, client_id: str) -> AccessToken:
        """An app-only token with what the tenant's admin granted the app."""
        token = AccessToken(
            value=opaque_token(),
            client_id=client_id,
            user_id=None,
            permissions=frozenset(self.admin_consents.get((tenant_id, client_id), set())),
            expires_at=self.now() + self.settings.access_token_lifetime,
            tenant_id=tenant_id,
        )
        self.access_tokens[token.value] = token
        return token

    def revoke_family(self, family: str, code: int) -> None:
        for token in self.refresh_tokens.values():
            if token.family == family:
                token.revoked_code = code

    def revoke_user_refresh_tokens(
        self, user_id: str, code: int = 70008, client_id: str | None = None
    ) -> int:
        if code not in REVOCATION_CODES:
            raise InvalidInput(f"error_code must be one of {REVOCATION_CODES}")
        revoked = 0
        for token in self.refresh_tokens.values():
            if token.user_id == user_id and (client_id is None or token.client_id == client_id):
                token.revoked_code = code
                revoked += 1
        return revoked

    def expire_access_tokens(self, user_id: str | None = None) -> int:
        expired = 0
        for token in self.access_tokens.values():
            if user_id is None or token.user_id == user_id:
                token.expires_at = self.now() - 1
                expired += 1
        return expired

    # --- mail -----------------------------------------------------------------------------

    def add_message(
        self, user_id: str, payload: dict[str, Any], folder: str | None = None
    ) -> dict[str, Any]:
        if user_id not in self.users:
            raise KeyError(user_id)
        attachments = [dict(a) for a in payload.pop("attachments", None) or []]
        if attachments:
            payload["hasAttachments"] = True
        mailbox = self.mailboxes.setdefault(user_id, Mailbox())
        name = folder or payload.pop("folder", None) or "inbox"
        target = mailbox.folder(name) or mailbox.add_folder(name)
        message = mailbox.add(graph_message(payload, target.id, self.now()))
        for attachment in attachments:
            attachment.setdefault("id", "AAMkAtt" + secrets.token_urlsafe(12))
        if attachments:
            self.attachments[message["id"]] = attachments
        return message

    def expire_delta_tokens(self) -> int:
        """Forget every delta and skip token, as Graph does when its token cache overflows:
        the next request with one gets ``410 Gone`` and the client must sync again."""
        expired = len(self.delta_tokens) + len(self.delta_pages)
        self.delta_tokens.clear()
        self.delta_pages.clear()
        return expired

    # --- faults ---------------------------------------------------------------------------

    def add_fault(self, payload: dict[str, Any]) -> Fault:
        target = payload.get("target", "token")
        kind = payload.get("kind", "status")
        if target not in FAULT_TARGETS:
            raise InvalidInput(f"target must be one of {FAULT_TARGETS}")
        if kind not in FAULT_KINDS:
            raise InvalidInput(f"kind must be one of {FAULT_KINDS}")
        default_status = {"status": 429, "delay": 200, "garbage": 200}[kind]
        status = int(payload.get("status", default_status))
        retry_after = payload.get("retry_after")
        if retry_after is None and status == 429:
            retry_after = 1
        fault = Fault(
            id=new_id(),
            target=target,
            kind=kind,
            status=status,
            retry_after=None if retry_after is None else int(retry_after),
            seconds=float(payload.get("seconds", 0)),
            remaining=int(payload.get("count", 1)),
            grant_type=payload.get("grant_type"),
            path=payload.get("path"),
            headers={str(k): str(v) for k, v in (payload.get("headers") or {}).items()},
        )
        if fault.remaining < 1:
            raise InvalidInput("count must be at least 1")
        self.faults.append(fault)
        return fault

    def take_fault(
        self, target: str, *, grant_type: str | None = None, path: str | None = None
    ) -> Fault | None:
        for fault in self.faults:
            if fault.matches(target, grant_type, path):
                fault.remaining -= 1
                self.counters["faults_served"] += 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault
        return None

    # --- observation ----------------------------------------------------------------------

    def counters_view(self) -> dict[str, Any]:
        def group(prefix: str) -> dict[str, int]:
            return {
                name.removeprefix(prefix): count
                for name, count in sorted(self.counters.items())
                if name.startswith(prefix)
            }

        return {
            "authorize_requests": self.counters["authorize_requests"],
            "token_requests": group("token_requests:"),
            "tokens_issued": group("tokens_issued:"),
            "refresh_requests": self.counters["token_requests:refresh_token"],
            "graph_requests": group("graph_requests:"),
            "messages_sent": self.counters["messages_sent"],
            "admin_consents": self.counters["admin_consents"],
            "faults_served": self.counters["faults_served"],
        }

    def start_log_entry(
        self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str]
    ) -> dict[str, Any]:
        self.log_sequence += 1
        entry: dict[str, Any] = {
            "seq": self.log_sequence,
            "time": iso(self.now()),
            "method": method,
            "path": path,
            "query": redact_pairs(query),
            "headers": redact_headers(headers),
            "form": None,
            "status": None,
        }
        self.request_log.append(entry)
        del self.request_log[:-REQUEST_LOG_LIMIT]
        return entry


# --- helpers shared with the handlers ---------------------------------------------------------


def _canonical_permissions(names: list[Any]) -> list[str]:
    permissions = []
    for name in names:
        canonical = canonical_permission(str(name))
        if canonical is None:
            raise InvalidInput(f"unknown Graph permission {name!r}")
        permissions.append(canonical)
    return permissions


def redact_pairs(pairs: list[tuple[str, str]]) -> dict[str, str]:
    return {key: REDACTED if key in SECRET_FIELDS else value for key, value in pairs}


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Keep the auth scheme so a log shows Basic vs Bearer, never the credential."""
    cleaned = {}
    for name, value in headers.items():
        if name.lower() in {"authorization", "proxy-authorization"}:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            cleaned[name] = f"{scheme} {REDACTED}".strip()
        elif name.lower() == "cookie":
            cleaned[name] = REDACTED
        else:
            cleaned[name] = value
    return cleaned


def validate_redirect_uri(uri: str, audience: str) -> None:
    """Registration rules from "Redirect URI (reply URL) restrictions and limitations"
    (https://learn.microsoft.com/entra/identity-platform/reply-url): https only, except http on
    localhost; no query string for apps that sign in personal accounts; no ``! $ ' ( ) , ;``."""
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc:
        raise InvalidInput(f"redirect URI {uri!r} must be absolute")
    if parts.scheme == "http" and parts.hostname not in {"localhost", "127.0.0.1"}:
        raise InvalidInput(f"redirect URI {uri!r}: http is allowed only for localhost")
    if parts.scheme not in {"http", "https"}:
        raise InvalidInput(f"redirect URI {uri!r}: only http(s) URIs are emulated")
    if parts.query and audience in {
        "AzureADandPersonalMicrosoftAccount",
        "PersonalMicrosoftAccount",
    }:
        raise InvalidInput(
            f"redirect URI {uri!r}: query strings are not allowed for apps that sign in "
            "personal Microsoft accounts"
        )
    if any(ch in uri for ch in "!$'(),;"):
        raise InvalidInput(f"redirect URI {uri!r} contains a character Microsoft refuses")


def redirect_uri_matches(requested: str, registered: str) -> bool:
    """Exact, case-sensitive match; for localhost and 127.0.0.1 the port is ignored (RFC 8252,
    as the reply-url page documents under "Localhost exceptions")."""
    if requested == registered:
        return True
    want, have = urlsplit(requested), urlsplit(registered)
    loopback = {"localhost", "127.0.0.1"}
    if want.hostname in loopback and want.hostname == have.hostname:
        return (want.scheme, want.path, want.query) == (have.scheme, have.path, have.query)
    return False


def pkce_matches(verifier: str, challenge: str, method: str | None) -> bool:
    """RFC 7636 §4.6; Microsoft supports ``plain`` and ``S256`` (auth code flow page)."""
    if (method or "plain") == "plain":
        return hmac.compare_digest(verifier, challenge)
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(computed, challenge)


def _body(payload: dict[str, Any]) -> dict[str, str]:
    body = payload.get("body")
    if isinstance(body, dict):
        return {"contentType": body.get("contentType", "text"), "content": body.get("content", "")}
    return {"contentType": "text", "content": str(body or "")}


def _address(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {"emailAddress": {"name": value, "address": value}}
    return value


def graph_message(payload: dict[str, Any], folder: str, now: float) -> dict[str, Any]:
    """A Graph ``message`` resource with the properties Graph returns by default filled in;
    ``folder`` is the id of the folder it is in."""
    body = _body(payload)
    sender = _address(payload.get("from") or payload.get("sender"))
    received = payload.get("receivedDateTime") or iso(now)
    message_id = payload.get("id") or "AAMkA" + secrets.token_urlsafe(24)
    preview = body["content"] if body["contentType"].lower() == "text" else ""
    return {
        "@odata.etag": 'W/"' + secrets.token_urlsafe(12) + '"',
        "id": message_id,
        "createdDateTime": payload.get("createdDateTime") or received,
        "lastModifiedDateTime": payload.get("lastModifiedDateTime") or received,
        "receivedDateTime": received,
        "sentDateTime": payload.get("sentDateTime") or received,
        "hasAttachments": bool(payload.get("hasAttachments", False)),
        "internetMessageId": payload.get("internetMessageId")
        or f"<{secrets.token_hex(8)}@xkit-emulator>",
        "subject": payload.get("subject", ""),
        "bodyPreview": payload.get("bodyPreview", preview[:255]),
        "importance": payload.get("importance", "normal"),
        "parentFolderId": folder,
        "conversationId": payload.get("conversationId") or "AAQkA" + secrets.token_urlsafe(16),
        "isRead": bool(payload.get("isRead", False)),
        "isDraft": bool(payload.get("isDraft", False)),
        "webLink": f"https://outlook.office.com/owa/?ItemID={message_id}",
        "body": body,
        "sender": sender,
        "from": sender,
        "toRecipients": [_address(r) for r in payload.get("toRecipients") or []],
        "ccRecipients": [_address(r) for r in payload.get("ccRecipients") or []],
        "bccRecipients": [_address(r) for r in payload.get("bccRecipients") or []],
        "replyTo": [_address(r) for r in payload.get("replyTo") or []],
        "categories": list(payload.get("categories") or []),
        "flag": payload.get("flag") or {"flagStatus": "notFlagged"},
    }
