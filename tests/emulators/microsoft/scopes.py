"""Parsing the ``scope`` parameter the way the Microsoft identity platform reads it.

Facts this module relies on (Microsoft identity platform docs, "Scopes and permissions",
https://learn.microsoft.com/entra/identity-platform/scopes-oidc):

- a scope without a resource prefix means Microsoft Graph: ``User.Read`` is
  ``https://graph.microsoft.com/User.Read``;
- ``openid``, ``email``, ``profile`` and ``offline_access`` are the OpenID Connect scopes;
  only ``offline_access`` yields a refresh token;
- ``{resource}/.default`` asks for every permission already granted for that resource, and it
  cannot be combined with individually named permissions of the same request;
- a token is for one resource, and one request cannot ask for several ("Access Token requests
  are per-resource"; MSAL.js "Resources and scopes"). Besides Graph the emulator knows Exchange
  Online's mail protocols, written with their resource ("Authenticate an IMAP, POP or SMTP
  connection using OAuth": ``https://outlook.office.com/IMAP.AccessAsUser.All``). Microsoft
  does not document the exact error for a mixed request; the emulator answers AADSTS70011.

Permission names are case-insensitive (Microsoft's own examples write ``mail.read``); the
emulator keeps Graph's canonical spelling so tokens and responses read like the real ones.
"""

from __future__ import annotations

from dataclasses import dataclass

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")

# Delegated Graph permissions the emulator recognises. Anything else is rejected like an
# unknown scope; add names here when a provider template starts asking for them.
GRAPH_PERMISSIONS = (
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
    "Mail.ReadBasic",
    "Mail.Read",
    "Mail.ReadWrite",
    "Mail.Send",
    "Mail.Read.Shared",
    "Mail.ReadWrite.Shared",
    "Mail.Send.Shared",
    "MailboxSettings.Read",
    "MailboxSettings.ReadWrite",
    "Calendars.Read",
    "Calendars.Read.Shared",
    "Calendars.ReadWrite",
    "Calendars.ReadWrite.Shared",
    "Contacts.Read",
    "Contacts.ReadWrite",
    "Files.Read",
    "Files.ReadWrite",
    "Files.Read.All",
    "Files.ReadWrite.All",
    "Files.ReadWrite.AppFolder",
    "Team.ReadBasic.All",
    "Channel.ReadBasic.All",
    "ChannelMessage.Send",
    "Chat.ReadBasic",
    "Chat.Read",
    "Chat.ReadWrite",
    "ChatMessage.Send",
    "People.Read",
    "Tasks.ReadWrite",
    "IMAP.AccessAsUser.All",
    "POP.AccessAsUser.All",
    "SMTP.Send",
)
_CANONICAL = {name.lower(): name for name in GRAPH_PERMISSIONS}
_GRAPH_PREFIXES = (f"{GRAPH_RESOURCE}/", f"{GRAPH_APP_ID}/")
EXCHANGE_RESOURCE = "https://outlook.office.com"
EXCHANGE_PERMISSIONS = ("IMAP.AccessAsUser.All", "POP.AccessAsUser.All", "SMTP.Send")
_EXCHANGE_CANONICAL = {name.lower(): name for name in EXCHANGE_PERMISSIONS}

# What each Graph endpoint accepts, from least to most privileged (Graph API reference pages:
# "Get user" and "List messages" on learn.microsoft.com/graph/api).
ME_PERMISSIONS = frozenset(
    {
        "User.Read",
        "User.ReadWrite",
        "User.ReadBasic.All",
        "User.Read.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
        "Directory.AccessAsUser.All",
    }
)
READ_MAIL_PERMISSIONS = frozenset({"Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"})
SEND_MAIL_PERMISSIONS = frozenset({"Mail.Send"})
WRITE_MAIL_PERMISSIONS = frozenset({"Mail.ReadWrite"})


class ScopeError(Exception):
    """A ``scope`` value Microsoft would refuse: OAuth error name, AADSTS number, message."""

    def __init__(self, error: str, code: int, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RequestedScopes:
    """A parsed ``scope`` parameter."""

    oidc: tuple[str, ...]
    graph: tuple[str, ...]
    default: bool
    exchange: tuple[str, ...] = ()

    @property
    def offline_access(self) -> bool:
        return "offline_access" in self.oidc

    @property
    def resource(self) -> str:
        """The one resource the access token will be for."""
        return EXCHANGE_RESOURCE if self.exchange else GRAPH_RESOURCE


def canonical_permission(name: str) -> str | None:
    """Graph's spelling of a permission name, or None when the emulator doesn't know it."""
    return _CANONICAL.get(name.lower())


def _not_valid(item: str) -> ScopeError:
    return ScopeError(
        "invalid_scope",
        70011,
        "The provided value for the input parameter 'scope' is not valid. "
        f"The scope '{item}' is not valid.",
    )


def parse_scopes(raw: str | None) -> RequestedScopes:
    """Split and validate a space-separated ``scope`` value, or raise ``ScopeError``."""
    items = (raw or "").split()
    if not items:
        raise ScopeError(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        )
    oidc: list[str] = []
    graph: list[str] = []
    exchange: list[str] = []
    default = False
    for item in items:
        if item.lower() in OIDC_SCOPES:
            if item.lower() not in oidc:
                oidc.append(item.lower())
            continue
        if item.lower().startswith(f"{EXCHANGE_RESOURCE}/"):
            permission = _EXCHANGE_CANONICAL.get(item[len(EXCHANGE_RESOURCE) + 1 :].lower())
            if permission is None:
                raise _not_valid(item)
            if permission not in exchange:
                exchange.append(permission)
            continue
        name = item
        for prefix in _GRAPH_PREFIXES:
            if item.lower().startswith(prefix.lower()):
                name = item[len(prefix) :]
                break
        else:
            if "/" in item or ":" in item:
                raise ScopeError(
                    "invalid_resource",
                    500011,
                    f"The resource principal named {item.rsplit('/', 1)[0]} was not found in "
                    "the tenant. The emulator only knows Microsoft Graph.",
                )
        if name.lower() == ".default":
            default = True
            continue
        permission = canonical_permission(name)
        if permission is None:
            raise _not_valid(item)
        if permission not in graph:
            graph.append(permission)
    if default and graph:
        raise ScopeError(
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid. "
            "'.default' cannot be combined with other permissions of the same resource.",
        )
    if exchange and (graph or default):
        raise ScopeError(
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid. "
            "It asks for permissions of more than one resource.",
        )
    return RequestedScopes(
        oidc=tuple(oidc), graph=tuple(graph), default=default, exchange=tuple(exchange)
    )
