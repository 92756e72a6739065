"""xkit's mail API: one shape of mail over Outlook (Microsoft Graph) and Gmail mailboxes.

A connector's template says which mailbox API it speaks (``mail.api``); the adapter for that
API turns the shared requests into the provider's calls and its answers into the shared shape
(``models``). Every call goes out as a proxy call does (``calls``). See ``docs/mail.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from xkit.errors import Conflict
from xkit.services.mail import gmail, graph
from xkit.services.mail.calls import Mailbox
from xkit.services.mail.models import (
    Folder,
    ListQuery,
    MailMessage,
    MessageChange,
    MessagePage,
    OutgoingMessage,
    SentMessage,
)
from xkit.services.tokens import connections
from xkit.services.tokens.refresh import TokenDeps


class MailApi(Protocol):
    """What each adapter module provides."""

    async def list_messages(self, mailbox: Mailbox, query: ListQuery) -> MessagePage: ...
    async def get_message(self, mailbox: Mailbox, message_id: str) -> MailMessage: ...
    async def raw_message(self, mailbox: Mailbox, message_id: str) -> AsyncIterator[bytes]: ...
    async def attachment(self, mailbox: Mailbox, message_id: str,
                         attachment_id: str) -> AsyncIterator[bytes]: ...
    async def send(self, mailbox: Mailbox, message: OutgoingMessage) -> SentMessage: ...
    async def change(self, mailbox: Mailbox, message_id: str,
                     wanted: MessageChange) -> MailMessage: ...
    async def folders(self, mailbox: Mailbox) -> list[Folder]: ...


ADAPTERS: dict[str, MailApi] = {"microsoft-graph": graph, "gmail": gmail}


def mail_api_of(deps: TokenDeps, view: connections.ConnectionView) -> str | None:
    """The mailbox API the connection's template speaks; None when it has none, or when its
    template is no longer loaded on this server (a connector outlives its template)."""
    if view.connector.provider not in deps.providers:
        return None
    template = deps.providers.get(view.connector.provider)
    return template.mail.api if template.mail is not None else None


async def open_mailbox(session: AsyncSession, deps: TokenDeps, platform_id: str,
                       connection_id: str, *, http: object, allow_private: bool,
                       connect_to: object) -> tuple[MailApi, Mailbox]:
    """The connection's mailbox and the adapter for its API; 409 ``mail_unsupported`` when
    its connector's provider has no mail API xkit speaks."""
    view = await connections.get_connection(session, platform_id, connection_id)
    await session.commit()
    api = mail_api_of(deps, view)
    if api is None:
        raise Conflict(f"{view.connector.name} connections have no mailbox xkit can read; the "
                       "mail API serves Outlook Email and Gmail connectors",
                       code="mail_unsupported")
    return ADAPTERS[api], Mailbox(deps, view, http, allow_private, connect_to)
