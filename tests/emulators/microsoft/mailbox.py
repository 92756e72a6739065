"""One user's Outlook mailbox as Graph shows it: folders, messages, and a change history.

The change history is what delta queries read. Every add, update, move and delete takes the
next number of the mailbox's change sequence; a delta token remembers the number its round
started at, so the next round returns what changed after it. Graph's rules, from "Get
incremental changes to messages in a folder" and "message: delta" (learn.microsoft.com/graph):
delta is per folder; a message moved out of a folder, or deleted, comes back to that folder's
round as ``{"@removed": {"reason": "deleted"}, "id": ...}``; an update returns the message in
its current state; a round's first pages hold what is in the folder now (nothing deleted
earlier). Moving a message gives it a new id, as Graph does without immutable ids.

Folder ids are opaque, as in Graph; the well-known names (``inbox``, ``sentitems`` …) are
accepted wherever an id is, as Graph accepts them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

WELL_KNOWN_FOLDERS = {
    "inbox": "Inbox",
    "sentitems": "Sent Items",
    "drafts": "Drafts",
    "deleteditems": "Deleted Items",
    "archive": "Archive",
    "junkemail": "Junk Email",
    "outbox": "Outbox",
}
ROOT_NAME = "msgfolderroot"


def folder_id() -> str:
    return "AAMkAGVmMDEz" + secrets.token_urlsafe(18) + "AAA="


@dataclass
class Folder:
    id: str
    display_name: str
    parent_folder_id: str
    well_known_name: str | None = None

    def resource(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """Graph's ``mailFolder`` resource with its counts."""
        inside = [m for m in messages if m["parentFolderId"] == self.id]
        return {
            "id": self.id,
            "displayName": self.display_name,
            "parentFolderId": self.parent_folder_id,
            "childFolderCount": 0,
            "unreadItemCount": sum(1 for m in inside if not m["isRead"]),
            "totalItemCount": len(inside),
            "sizeInBytes": sum(len(str(m.get("body", ""))) for m in inside),
            "isHidden": False,
        }


@dataclass
class Removal:
    sequence: int
    message_id: str
    folder_id: str


@dataclass
class Mailbox:
    root_id: str = field(default_factory=folder_id)
    folders: dict[str, Folder] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    sequence: int = 0
    changed_at: dict[str, int] = field(default_factory=dict)  # message id -> last change
    removals: list[Removal] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.folders:
            for name, display in WELL_KNOWN_FOLDERS.items():
                self.add_folder(display, well_known_name=name)

    # -- folders --------------------------------------------------------------------------

    def add_folder(self, display_name: str, well_known_name: str | None = None) -> Folder:
        folder = Folder(folder_id(), display_name, self.root_id, well_known_name)
        self.folders[folder.id] = folder
        return folder

    def folder(self, id_or_name: str) -> Folder | None:
        """A folder by its id or, as Graph allows, its well-known name (any case)."""
        if id_or_name in self.folders:
            return self.folders[id_or_name]
        name = id_or_name.lower()
        return next((f for f in self.folders.values() if f.well_known_name == name), None)

    # -- messages -------------------------------------------------------------------------

    def _touch(self, message_id: str) -> None:
        self.sequence += 1
        self.changed_at[message_id] = self.sequence

    def add(self, message: dict[str, Any]) -> dict[str, Any]:
        self.messages.append(message)
        self._touch(message["id"])
        return message

    def find(self, message_id: str) -> dict[str, Any] | None:
        return next((m for m in self.messages if m["id"] == message_id), None)

    def update(self, message: dict[str, Any], changes: dict[str, Any], now: str) -> None:
        message.update(changes)
        message["lastModifiedDateTime"] = now
        message["@odata.etag"] = 'W/"' + secrets.token_urlsafe(12) + '"'
        self._touch(message["id"])

    def remove(self, message: dict[str, Any]) -> None:
        self.messages.remove(message)
        self.sequence += 1
        self.removals.append(Removal(self.sequence, message["id"], message["parentFolderId"]))
        self.changed_at.pop(message["id"], None)

    def move(self, message: dict[str, Any], destination: Folder, new_id: str,
             now: str) -> dict[str, Any]:
        """Graph's move: the message leaves its folder and comes back with a new id."""
        self.remove(message)
        moved = {**message, "id": new_id, "parentFolderId": destination.id,
                 "lastModifiedDateTime": now}
        return self.add(moved)

    def in_folder(self, folder: Folder | None) -> list[dict[str, Any]]:
        return [m for m in self.messages if folder is None or m["parentFolderId"] == folder.id]

    def changes(self, folder: Folder, since: int) -> list[dict[str, Any]]:
        """What a delta round started at ``since`` returns for ``folder``: messages there that
        changed after it, and ``@removed`` rows for those that left it or were deleted."""
        rows: list[dict[str, Any]] = [
            m for m in self.in_folder(folder) if self.changed_at.get(m["id"], 0) > since]
        rows.extend({"@odata.type": "#microsoft.graph.message", "id": r.message_id,
                     "@removed": {"reason": "deleted"}}
                    for r in self.removals if r.sequence > since and r.folder_id == folder.id)
        return rows
