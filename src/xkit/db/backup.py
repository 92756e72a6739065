"""A consistent copy of the SQLite database, taken while servers keep serving.

SQLite's online backup API copies the database page by page under its own locking, so the
copy is one consistent state even while the server writes; copying the file (and its -wal)
with ``cp`` is not. PostgreSQL has its own tool for this (``pg_dump``), so xkit does not
wrap it: see docs/operations.md#backups.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy import make_url

from xkit.errors import XkitError

PG_DUMP_HINT = (
    "xkit backup copies SQLite databases only; back PostgreSQL up with "
    "`pg_dump -Fc` and restore with `pg_restore` (docs/operations.md#backups)"
)


class BackupRefused(XkitError):
    """The backup cannot be taken as asked; the message says why and what to do."""

    code = "backup_refused"


def sqlite_path(database_url: str) -> Path:
    """The file of a SQLite database URL; anything else is refused with the pg_dump path."""
    if not database_url.startswith("sqlite"):
        raise BackupRefused(PG_DUMP_HINT)
    name = make_url(database_url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise BackupRefused("the database is not a plain SQLite file; nothing to back up")
    return Path(name)


def backup_sqlite(source: Path, target: Path, *, force: bool = False) -> int:
    """Copy the database at ``source`` to ``target`` (mode 0600); the copy's size in bytes.

    The copy is written beside ``target`` under a temporary name and renamed into place, so
    an interrupted backup never leaves a half-written file where a good one is expected, and
    ``--force`` replaces an old backup only once the new one is complete. The copy is left in
    rollback-journal mode: one self-contained file, with no -wal beside it to forget."""
    if not source.is_file():
        raise BackupRefused(f"no database at {source}")
    if target.is_dir():
        raise BackupRefused(f"{target} is a directory; give the path of the file to write")
    if target.exists() and not force:
        raise BackupRefused(f"{target} exists; pass --force to replace it")
    if not target.parent.is_dir():
        raise BackupRefused(f"the directory {target.parent} does not exist")
    if target.resolve() == source.resolve():
        raise BackupRefused("the backup cannot replace the database itself")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    # Created private before SQLite opens it: the database holds personal data.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        # mode=rw: never create an empty database where the operator pointed at a wrong path.
        with closing(sqlite3.connect(f"{source.as_uri()}?mode=rw", uri=True)) as reader, \
                closing(sqlite3.connect(partial)) as writer:
            reader.execute("PRAGMA busy_timeout=10000")
            reader.backup(writer)
            writer.execute("PRAGMA journal_mode=DELETE")
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise BackupRefused(f"the backup failed: {exc}") from None
    return target.stat().st_size

