"""SQLite on a full disk: writes get a clear 503, reads go on, nothing acknowledged is lost,
the file stays sound, and freeing space is enough to recover.

The full disk is real: a small tmpfs mounted for the test (it needs root, as in CI and on the
development machines; elsewhere the test says why it cannot run).
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.database import backend
from tests.support.xkit import XkitEnvironment, XkitServer, create_platform

pytestmark = pytest.mark.skipif(backend() != "sqlite", reason="a SQLite file on a full disk")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(directory: Path) -> Path:
    """Write a file until the disk has no byte left."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out:
        for size in (65536, 1):  # big blocks, then the last few bytes one at a time
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * size)
    return filler


def test_a_full_disk_is_a_clear_error_and_loses_nothing(small_disk: Path,
                                                        tmp_path: Path) -> None:
    data_dir = small_disk / "data"
    environment = XkitEnvironment.new(data_dir, f"sqlite+aiosqlite:///{data_dir / 'xkit.db'}")
    server = XkitServer(environment, tmp_path / "serve.log")
    created: list[str] = []
    try:
        platform = create_platform(environment, "acme")
        with platform.client(server) as api:
            def new_context(number: int) -> httpx.Response:
                response = api.post("/api/platform/contexts", json={"context": {
                    "external_id": f"user-{number}", "external_name": "x" * 200,
                    "attributes": {"notes": "y" * 2000}}})
                if response.status_code in (200, 201):
                    created.append(f"user-{number}")
                return response

            for number in range(20):
                assert new_context(number).status_code == 201
            filler = _fill(small_disk)

            refused = []
            for number in range(20, 400):
                response = new_context(number)
                assert response.status_code in (201, 503), response.text
                if response.status_code == 503:
                    refused.append(response.json()["error"])
                    if len(refused) >= 3:
                        break
            assert refused, "the disk never filled up"
            assert {e["code"] for e in refused} == {"database_full"}
            assert "disk" in refused[0]["message"] and "Nothing was saved" in refused[0]["message"]
            assert api.get(f"/api/platform/contexts/{created[0]}").status_code == 200

            filler.unlink()
            assert new_context(1000).status_code == 201  # no restart needed
            for external_id in created:
                assert api.get(f"/api/platform/contexts/{external_id}").status_code == 200
    finally:
        server.stop()
    assert "Traceback" not in server.output()
    with sqlite3.connect(data_dir / "xkit.db") as database:
        assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = {row[0] for row in database.execute("SELECT external_id FROM contexts")}
    assert set(created) <= stored
