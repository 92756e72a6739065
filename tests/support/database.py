"""Test databases: a SQLite file, or a throwaway PostgreSQL database dropped afterwards.

``XKIT_TEST_DATABASE=postgresql`` runs the suite on PostgreSQL (``XKIT_TEST_POSTGRES_URL``,
default the local server with trust auth); anything else, or unset, runs it on SQLite.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

POSTGRES_ADMIN_URL = os.environ.get(
    "XKIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def backend() -> str:
    return (
        "postgresql" if os.environ.get("XKIT_TEST_DATABASE", "sqlite") == "postgresql" else "sqlite"
    )


@contextmanager
def temporary_database(directory: Path, kind: str | None = None,
                       prefix: str = "xkit_test") -> Iterator[str]:
    """Yield an async SQLAlchemy URL for an empty database of ``kind`` (``sqlite`` or
    ``postgresql``; by default the selected backend)."""
    if (kind or backend()) == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'xkit.db'}"
        return
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace(
            "postgresql://", "postgresql+asyncpg://"
        )
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sync_url(async_url: str) -> str:
    """The same database for a plain DB-API connection (to read raw rows in tests)."""
    return async_url.replace("postgresql+asyncpg://", "postgresql://")


def raw_dump(async_url: str) -> bytes:
    """Every byte the database holds that a test may search for leaked plaintext."""
    if async_url.startswith("sqlite"):
        path = Path(async_url.split("///", 1)[1])
        data = path.read_bytes()
        for suffix in ("-wal", "-shm"):
            extra = path.with_name(path.name + suffix)
            if extra.exists():
                data += extra.read_bytes()
        return data
    chunks: list[bytes] = []
    with psycopg.connect(sync_url(async_url)) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        ]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"').fetchall():
                chunks.append(repr(row).encode())
    return b"\n".join(chunks)
