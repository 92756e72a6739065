"""The one shape of mail that xkit's mail API answers with, whatever the mailbox's provider.

Each field says how it maps to Microsoft Graph's ``message`` and to the Gmail API's
``Message`` in ``docs/mail.md``. What only one provider has is kept under ``provider``,
never dropped, so a backend can still reach it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Address(_Model):
    name: str | None = None
    address: str


class AttachmentInfo(_Model):
    id: str
    filename: str
    content_type: str
    size: int | None = None
    inline: bool = False


class MailMessage(_Model):
    id: str
    thread_id: str | None
    internet_message_id: str | None = None
    folder_ids: list[str] = Field(description="Graph: [parentFolderId]; Gmail: the labelIds")
    subject: str = ""
    from_: Address | None = Field(None, alias="from")
    to: list[Address] = []
    cc: list[Address] = []
    bcc: list[Address] = []
    reply_to: list[Address] = []
    date: str | None = Field(None, description="when it was received, RFC 3339")
    read: bool
    starred: bool = False
    snippet: str = ""
    text: str | None = Field(None, description="the text/plain body, when there is one")
    html: str | None = Field(None, description="the text/html body, when there is one")
    attachments: list[AttachmentInfo] = []
    provider: dict[str, Any] = Field(
        {}, description="fields only this provider has, under their provider's names")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class MessagePage(_Model):
    messages: list[MailMessage]
    next_cursor: str | None = None


class Folder(_Model):
    id: str
    name: str
    kind: Literal["system", "user"]
    role: str | None = Field(
        None, description="inbox, sent, drafts, trash, spam, archive … when it has one")
    total: int | None = None
    unread: int | None = None


class FolderList(_Model):
    folders: list[Folder]


class OutgoingAttachment(_Model):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field("application/octet-stream", pattern=r"^[\w.+-]+/[\w.+-]+$")
    content_base64: str = Field(description="the file's bytes, base64-encoded")


class OutgoingMessage(_Model):
    to: list[Address] = Field([], description="required, except in a reply (which goes to "
                                               "the original's sender)")
    cc: list[Address] = []
    bcc: list[Address] = []
    subject: str = Field("", max_length=998)
    text: str | None = None
    html: str | None = None
    attachments: list[OutgoingAttachment] = []
    in_reply_to: str | None = Field(
        None, description="a message id (xkit's, from this mailbox): send as a reply in its "
                          "thread")


class SentMessage(_Model):
    id: str | None = Field(description="the sent message's id, when the provider gives one "
                                       "(Gmail does; Graph's sendMail does not)")
    thread_id: str | None = None


class MessageChange(_Model):
    read: bool | None = None
    folder_id: str | None = Field(None, description="move it to this folder (Graph) or label "
                                                    "(Gmail: replaces INBOX with it)")


class ListQuery(_Model):
    """What a backend may ask a mailbox for; each adapter turns it into its API's query."""

    folder_id: str | None = None
    unread: bool | None = None
    sender: str | None = None
    since: str | None = None
    query: str | None = None
    limit: int = 25
    cursor: str | None = None
