"""The mail API: read, search and send in a connection's mailbox (Outlook or Gmail), one shape
for both. The work is in ``services/mail``; see ``docs/mail.md``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from xkit.api.deps import CallerDep, RuntimeDep, SessionDep
from xkit.api.platform.proxy import ProxyRoute
from xkit.api.schemas import ErrorResponse
from xkit.runtime import Runtime
from xkit.services import mail
from xkit.services.mail.calls import Mailbox, provider_shape
from xkit.services.mail.models import (
    FolderList,
    ListQuery,
    MailMessage,
    MessageChange,
    MessagePage,
    OutgoingMessage,
    SentMessage,
)

# Sending carries attachments: the route takes bodies up to XKIT_PROXY_MAX_BODY_BYTES, as the
# proxy does, where the rest of the API keeps XKIT_MAX_BODY_BYTES.
router = APIRouter(tags=["mail"], route_class=ProxyRoute)
PREFIX = "/connections/{connection_id}/mail"
ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse, "description": "mail_scope_missing: the connector's scopes "
                                                 "lack the permission named in details.scope"},
    404: {"model": ErrorResponse, "description": "No such connection, message or attachment"},
    409: {"model": ErrorResponse, "description": "mail_unsupported (not a mailbox connector) "
                                                 "or reconnect_required"},
    429: {"model": ErrorResponse, "description": "mail_throttled: wait Retry-After seconds"},
    502: {"model": ErrorResponse, "description": "provider_error: the provider failed"},
}
BINARY: dict[int | str, dict[str, Any]] = {200: {
    "description": "The bytes, as the provider holds them",
    "content": {"application/octet-stream": {"schema": {"type": "string",
                                                        "format": "binary"}}}}}


async def _open(runtime: Runtime, session: SessionDep, caller: CallerDep,
                connection_id: str) -> tuple[mail.MailApi, Mailbox]:
    return await mail.open_mailbox(
        session, runtime.token_deps, caller.platform_id, connection_id,
        http=runtime.proxy_http, allow_private=runtime.settings.proxy_allow_private_networks,
        connect_to=runtime.settings.connect_to)


@router.get(f"{PREFIX}/messages", response_model=MessagePage, responses=ERRORS,
            summary="List or search a mailbox's messages, newest first")
async def list_messages(
    connection_id: str, caller: CallerDep, runtime: RuntimeDep, session: SessionDep,
    folder: Annotated[str | None, Query(max_length=500, description=(
        "a folder id (Outlook; or a well-known name such as inbox) or a label id (Gmail)"))]
    = None,
    unread: Annotated[bool | None, Query(description="only unread (true) or read (false)")]
    = None,
    sender: Annotated[str | None, Query(alias="from", max_length=320,
                                        description="only from this address")] = None,
    since: Annotated[dt.datetime | None, Query(description="received at or after")] = None,
    q: Annotated[str | None, Query(max_length=500,
                                   description="text passed to the provider's own search")]
    = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query(max_length=4000)] = None,
) -> MessagePage:
    api, mailbox = await _open(runtime, session, caller, connection_id)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)  # a time without a zone is read as UTC
    moment = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if since else None
    query = ListQuery(folder_id=folder, unread=unread, sender=sender, since=moment, query=q,
                      limit=limit, cursor=cursor)
    with provider_shape():
        return await api.list_messages(mailbox, query)


@router.get(f"{PREFIX}/messages/{{message_id}}", response_model=MailMessage,
            responses=ERRORS, summary="One message: headers, bodies and attachment list",
            response_model_by_alias=True)
async def get_message(connection_id: str, message_id: str, caller: CallerDep,
                      runtime: RuntimeDep, session: SessionDep) -> MailMessage:
    api, mailbox = await _open(runtime, session, caller, connection_id)
    with provider_shape():
        return await api.get_message(mailbox, message_id)


@router.get(f"{PREFIX}/messages/{{message_id}}/raw", response_class=StreamingResponse,
            responses={**ERRORS, 200: {"description": "The message in RFC 822 form",
                                       "content": {"message/rfc822": {"schema": {
                                           "type": "string", "format": "binary"}}}}},
            summary="The message as RFC 822 (MIME) bytes")
async def raw_message(connection_id: str, message_id: str, caller: CallerDep,
                      runtime: RuntimeDep, session: SessionDep) -> StreamingResponse:
    api, mailbox = await _open(runtime, session, caller, connection_id)
    with provider_shape():
        body = await api.raw_message(mailbox, message_id)
    return StreamingResponse(body, media_type="message/rfc822")


@router.get(f"{PREFIX}/messages/{{message_id}}/attachments/{{attachment_id}}",
            response_class=StreamingResponse, responses={**ERRORS, **BINARY},
            summary="An attachment's bytes, streamed")
async def attachment(connection_id: str, message_id: str, attachment_id: str,
                     caller: CallerDep, runtime: RuntimeDep,
                     session: SessionDep) -> StreamingResponse:
    api, mailbox = await _open(runtime, session, caller, connection_id)
    with provider_shape():
        body = await api.attachment(mailbox, message_id, attachment_id)
    return StreamingResponse(body, media_type="application/octet-stream")


@router.post(f"{PREFIX}/messages", response_model=SentMessage, status_code=202,
             responses=ERRORS, summary="Send a message, or a reply in a message's thread")
async def send(connection_id: str, message: OutgoingMessage, caller: CallerDep,
               runtime: RuntimeDep, session: SessionDep) -> SentMessage:
    api, mailbox = await _open(runtime, session, caller, connection_id)
    with provider_shape():
        return await api.send(mailbox, message)


@router.patch(f"{PREFIX}/messages/{{message_id}}", response_model=MailMessage,
              responses=ERRORS, response_model_by_alias=True,
              summary="Mark read or unread, or move to a folder (label)")
async def change(connection_id: str, message_id: str, wanted: MessageChange,
                 caller: CallerDep, runtime: RuntimeDep, session: SessionDep) -> MailMessage:
    api, mailbox = await _open(runtime, session, caller, connection_id)
    with provider_shape():
        return await api.change(mailbox, message_id, wanted)


@router.get(f"{PREFIX}/folders", response_model=FolderList, responses=ERRORS,
            summary="The mailbox's folders (Outlook) or labels (Gmail)")
async def folders(connection_id: str, caller: CallerDep, runtime: RuntimeDep,
                  session: SessionDep) -> FolderList:
    api, mailbox = await _open(runtime, session, caller, connection_id)
    with provider_shape():
        return FolderList(folders=await api.folders(mailbox))
