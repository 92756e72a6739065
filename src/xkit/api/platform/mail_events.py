"""Turning a connection's new-mail events on and off (``mail.received``, ``mail.deleted``).

The worker follows the mailbox from then on and records the events into the webhook outbox;
see ``docs/mail.md#events`` and :mod:`xkit.services.mail.follow`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from xkit.api.deps import CallerDep, RuntimeDep, SessionDep
from xkit.api.schemas import ErrorResponse
from xkit.services.mail import follow

router = APIRouter(tags=["mail"])
PATH = "/connections/{connection_id}/mail/events"
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such connection"},
    409: {"model": ErrorResponse, "description": "mail_unsupported: not a mailbox connector"},
}


class MailEventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folders: Annotated[list[Annotated[str, Field(max_length=500)]] | None, Field(
        None, max_length=follow.MAX_FOLDERS,
        description="Outlook folder ids or well-known names (default [\"inbox\"]); Gmail "
                    "label ids (default [\"INBOX\"])")]


class MailEventsOut(BaseModel):
    enabled: bool
    folders: list[str]
    synced_at: dt.datetime | None = Field(description="the last sync that succeeded")
    next_poll_at: dt.datetime | None
    last_error: str | None = Field(description="why the last sync failed, if it did")


@router.get(PATH, response_model=MailEventsOut, responses=ERRORS,
            summary="Whether the connection's mailbox is followed for new-mail events")
async def get_mail_events(connection_id: str, caller: CallerDep,
                          session: SessionDep) -> MailEventsOut:
    return MailEventsOut(**await follow.status(session, caller.platform_id, connection_id))


@router.put(PATH, response_model=MailEventsOut, responses=ERRORS,
            summary="Follow the connection's mailbox: new mail becomes mail.received events")
async def enable_mail_events(connection_id: str, body: MailEventsIn, caller: CallerDep,
                             runtime: RuntimeDep, session: SessionDep) -> MailEventsOut:
    return MailEventsOut(**await follow.enable(session, runtime.token_deps, caller.platform_id,
                                               connection_id, body.folders,
                                               actor=caller.actor))


@router.delete(PATH, response_model=MailEventsOut, responses=ERRORS,
               summary="Stop following the connection's mailbox")
async def disable_mail_events(connection_id: str, caller: CallerDep,
                              session: SessionDep) -> MailEventsOut:
    await follow.disable(session, caller.platform_id, connection_id, actor=caller.actor)
    return MailEventsOut(**follow.describe(None))
