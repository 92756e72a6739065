"""Backups taken while the server serves, restored next to it: the same key serves the same
tokens, another key serves nothing (docs/operations.md#backups)."""

from __future__ import annotations

import itertools
import stat
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.database import backend, sync_url, temporary_database
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.crypto import EncryptionKey

TOKEN_PATH = "/api/platform/contexts/user-1/connections/outlook-email"


def _token(server: XkitServer, platform: PlatformCredentials) -> str:
    with platform.client(server) as client:
        response = client.get(TOKEN_PATH)
    assert response.status_code == 200, response.text
    return str(response.json()["authorization"]["access_token"])


@contextmanager
def _server_kept_busy(server: XkitServer, platform: PlatformCredentials) -> Iterator[None]:
    """Token fetches and context writes against ``server`` for as long as the block runs, so
    that the backup is taken while the server reads and writes."""
    stop = threading.Event()
    statuses: list[int] = []

    def _work() -> None:
        with platform.client(server) as client:
            for n in itertools.count():
                if stop.is_set():
                    return
                statuses.append(client.get(TOKEN_PATH).status_code)
                statuses.append(client.post(
                    "/api/platform/contexts", json={"context": {"external_id": f"busy-{n}"}}
                ).status_code)

    worker = threading.Thread(target=_work)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(timeout=30)
    assert statuses and set(statuses) <= {200, 201}, statuses


@contextmanager
def _backup_restored(environment: XkitEnvironment, tmp_path: Path) -> Iterator[str]:
    """The URL of a database restored from a backup of ``environment``'s, taken the
    documented way for its kind: `xkit backup`, or `pg_dump -Fc` and `pg_restore`."""
    if backend() == "sqlite":
        copy = tmp_path / "backup.db"
        result = environment.run_cli("backup", str(copy))
        assert result.returncode == 0, result.stderr
        yield f"sqlite+aiosqlite:///{copy}"
        return
    dump = tmp_path / "xkit.dump"
    subprocess.run(["pg_dump", "-Fc", "--file", str(dump), sync_url(environment.database_url)],
                   check=True, capture_output=True, timeout=120)
    with temporary_database(tmp_path, prefix="xkit_restore") as url:
        subprocess.run(["pg_restore", "--no-owner", "--dbname", sync_url(url), str(dump)],
                       check=True, capture_output=True, timeout=120)
        yield url


def _installation_on(
    environment: XkitEnvironment, tmp_path: Path, database_url: str, keys: str
) -> XkitEnvironment:
    """A second installation like ``environment`` on another database and data directory."""
    return XkitEnvironment(data_dir=tmp_path / "restored", database_url=database_url,
                           encryption_keys=keys, extra=dict(environment.extra or {}))


def test_restored_backup_serves_the_same_token(
    connected: dict[str, str],
    platform: PlatformCredentials,
    xkit_environment: XkitEnvironment,
    xkit_server: XkitServer,
    tmp_path: Path,
) -> None:
    token = _token(xkit_server, platform)
    with _server_kept_busy(xkit_server, platform), \
            _backup_restored(xkit_environment, tmp_path) as restored_url:
        restored = _installation_on(xkit_environment, tmp_path, restored_url,
                                    xkit_environment.encryption_keys)
        server = XkitServer(restored, tmp_path / "restored.log")
        try:
            assert _token(server, platform) == token
        finally:
            server.stop()
    assert _token(xkit_server, platform) == token


def test_restored_backup_with_another_key_does_not_start(
    connected: dict[str, str],
    platform: PlatformCredentials,
    xkit_environment: XkitEnvironment,
    xkit_server: XkitServer,
    tmp_path: Path,
) -> None:
    key_id = xkit_environment.encryption_keys.split(":")[0]
    impostor = EncryptionKey(key_id=key_id, secret=EncryptionKey.generate().secret)
    with _backup_restored(xkit_environment, tmp_path) as restored_url:
        restored = _installation_on(xkit_environment, tmp_path, restored_url,
                                    impostor.to_spec())
        with pytest.raises(RuntimeError) as refused:
            XkitServer(restored, tmp_path / "restored.log").stop()
    message = str(refused.value)
    assert "not the key that encrypted" in message
    assert "Traceback" not in message
    assert impostor.to_spec().split(":", 1)[1] not in message


@pytest.mark.skipif(backend() != "sqlite", reason="xkit backup copies SQLite databases")
def test_sqlite_backup_is_private_names_the_key_and_never_overwrites(
    xkit_environment: XkitEnvironment, xkit_server: XkitServer, tmp_path: Path
) -> None:
    copy = tmp_path / "backup.db"
    first = xkit_environment.run_cli("backup", str(copy))
    assert first.returncode == 0, first.stderr
    assert f"wrote {copy}" in first.stdout
    assert "useless without the encryption key" in first.stdout
    assert "XKIT_ENCRYPTION_KEYS" in first.stdout
    assert xkit_environment.encryption_keys.split(":", 1)[1] not in first.stdout + first.stderr
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    written = copy.read_bytes()

    again = xkit_environment.run_cli("backup", str(copy))
    assert again.returncode == 1
    assert "exists; pass --force" in again.stderr
    assert "Traceback" not in again.stdout + again.stderr
    assert copy.read_bytes() == written

    forced = xkit_environment.run_cli("backup", str(copy), "--force")
    assert forced.returncode == 0, forced.stderr
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.db"]


@pytest.mark.skipif(backend() != "postgresql", reason="PostgreSQL is backed up with pg_dump")
def test_backup_on_postgresql_points_to_pg_dump(
    xkit_environment: XkitEnvironment, tmp_path: Path
) -> None:
    result = xkit_environment.run_cli("backup", str(tmp_path / "backup.db"))
    assert result.returncode == 1
    assert "pg_dump -Fc" in result.stderr and "pg_restore" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "backup.db").exists()


@pytest.mark.skipif(backend() != "sqlite", reason="xkit backup copies SQLite databases")
def test_sqlite_backup_refuses_wrong_paths_clearly(
    fresh_environment: XkitEnvironment, tmp_path: Path
) -> None:
    """No database yet: nothing is created, neither a database nor a copy; a missing target
    directory or a directory as target is named, not a traceback."""
    missing_db = fresh_environment.run_cli("backup", str(tmp_path / "copy.db"))
    assert missing_db.returncode == 1
    assert "no database at" in missing_db.stderr
    assert not Path(fresh_environment.database_url.split("///", 1)[1]).exists()
    assert not (tmp_path / "copy.db").exists()

    assert fresh_environment.run_cli("platforms", "list").returncode == 0  # creates the database
    for target, problem in ((tmp_path / "nowhere" / "copy.db", "does not exist"),
                            (tmp_path, "is a directory")):
        result = fresh_environment.run_cli("backup", str(target))
        assert result.returncode == 1, result.stdout
        assert problem in result.stderr
        assert "Traceback" not in result.stdout + result.stderr
