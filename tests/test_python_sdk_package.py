"""The Python SDK as its own distribution: installed alone, typed for its users."""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.xkit import PlatformCredentials, XkitServer
from xkit_client import AsyncXkit, Xkit

ROOT = Path(__file__).parent.parent
SAMPLE = ROOT / "tests" / "data" / "python_sdk_every_method.py"

BACKEND_SCRIPT = """
import os, sys
from xkit_client import NotFound, Xkit

with Xkit(os.environ["XKIT_URL"], os.environ["XKIT_PK"], os.environ["XKIT_SK"]) as xkit:
    context = xkit.create_context("user-1", name="Ada")
    connection = xkit.get_connection("user-1", "outlook-email")
    me = xkit.proxy(connection.id, "GET", "me")
    try:
        xkit.get_connection("nobody", "outlook-email")
    except NotFound as missing:
        print(missing.code)
    print(len(context.token) > 20, connection.account_label, me.status_code)
"""


def _public_methods(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, callable) if not name.startswith("_")}


def test_the_sdk_installs_alone_and_talks_to_a_real_server(
    tmp_path: Path, platform: PlatformCredentials, xkit_server: XkitServer,
    connected: dict[str, str],
) -> None:
    """`pip install clients/python` into a fresh venv brings httpx, not the server's
    dependencies, and a backend script works with it against `xkit serve`."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    source = tmp_path / "xkit-client"  # a copy, so the build leaves nothing in the repository
    shutil.copytree(ROOT / "clients" / "python", source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    installed = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
        capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]

    absent = subprocess.run(
        [python, "-c", "import importlib.util as u; print([m for m in ('fastapi', 'sqlalchemy',"
                       " 'asyncpg', 'starlette', 'pydantic', 'xkit') if u.find_spec(m)])"],
        capture_output=True, text=True, check=True)
    assert absent.stdout.strip() == "[]"

    environment = {**os.environ, "XKIT_URL": xkit_server.url,
                   "XKIT_PK": platform.publishable_key, "XKIT_SK": platform.secret_key}
    ran = subprocess.run([python, "-c", BACKEND_SCRIPT], capture_output=True, text=True,
                         env=environment, cwd=tmp_path, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.split("\n")[:2] == ["context_not_found", "True ada@contoso.test 200"]


@pytest.mark.database_independent
def test_a_script_using_every_method_passes_mypy_strict(tmp_path: Path) -> None:
    """The SDK ships `py.typed`: a user's `mypy --strict` checks calls, records and errors
    instead of stopping at `import-untyped`."""
    script = SAMPLE.read_text()
    for name in _public_methods(Xkit) | _public_methods(AsyncXkit):
        assert f".{name}(" in script, f"the sample does not use {name}"
    (tmp_path / "user_script.py").write_text(script)
    (tmp_path / "mypy.ini").write_text("[mypy]\n")
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", "mypy.ini",
         "--cache-dir", str(tmp_path / ".mypy_cache"), "user_script.py"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (ROOT / "clients" / "python" / "src" / "xkit_client" / "py.typed").exists()
