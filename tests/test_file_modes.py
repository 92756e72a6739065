"""The embedded default keeps its files private: the SQLite database (personal data, encrypted
tokens) and its WAL/SHM files are 0600 in a 0700 data directory, like the key file."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.xkit import XkitEnvironment, XkitServer, create_platform
from xkit.crypto import EncryptionKey

pytestmark = pytest.mark.database_independent  # the embedded SQLite default, in either pass


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The 022 most systems run with, which would leave SQLite's files world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_and_data_dir_are_private_after_a_real_server_wrote(
        tmp_path: Path, usual_umask: None) -> None:
    data_dir = tmp_path / "data"
    environment = XkitEnvironment(data_dir=data_dir, database_url="",
                                  encryption_keys="")  # the embedded default: file and key
    server = XkitServer(environment, tmp_path / "serve.log")
    try:
        platform = create_platform(environment, "acme")
        with platform.client(server) as api:
            assert api.post("/api/platform/contexts",
                            json={"context": {"external_id": "u"}}).status_code == 201
        files = {name: data_dir / name
                 for name in ("xkit.db", "xkit.db-wal", "xkit.db-shm", "encryption.key")}
        assert all(path.exists() for path in files.values()), sorted(os.listdir(data_dir))
        assert {name: oct(_mode(path)) for name, path in files.items()} == {
            name: oct(0o600) for name in files}
        assert oct(_mode(data_dir)) == oct(0o700)
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        server.stop()


def test_a_database_made_world_readable_earlier_is_made_private(
        tmp_path: Path, usual_umask: None) -> None:
    """An installation from before: its files are tightened when xkit next starts."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for name in ("xkit.db", "xkit.db-wal"):
        (data_dir / name).touch(mode=0o644)
    environment = XkitEnvironment(data_dir=data_dir, database_url="",
                                  encryption_keys=EncryptionKey.generate().to_spec())
    assert environment.run_cli("platforms", "list").returncode == 0
    assert oct(_mode(data_dir / "xkit.db")) == oct(0o600)
    assert not (data_dir / "xkit.db-wal").exists() or _mode(data_dir / "xkit.db-wal") == 0o600
