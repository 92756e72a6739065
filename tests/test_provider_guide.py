"""The contributor guide of docs/providers.md ("Adding a provider"), followed as written.

Its commands that need no network and change nothing outside a scratch directory run here, in
order, in one shell, against the guide's own example template; the ones left out (a server, the
test suite, moving files into the repository) are named, so a command added to the guide is
either run here or left out on purpose. The guide's provider case is checked against its
template, the way ``tests/test_provider_flows.py`` would use it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.provider_case import Document, ProviderCase, TokenError
from xkit.oauth import OAuthClient
from xkit.providers.registry import load_template_file

pytestmark = pytest.mark.database_independent

ROOT = Path(__file__).resolve().parents[1]
SECTION = re.search(r"\n## Adding a provider\n(.*?)\n## ", (ROOT / "docs" / "providers.md")
                    .read_text(), re.S)
GUIDE = SECTION.group(1) if SECTION else ""
EXAMPLE = "my-providers/acme-desk.yaml"
# What the test does not run: a server, the test suite itself, and the pull request's steps,
# which move files into the repository.
NOT_RUN = (".venv/bin/xkit serve", ".venv/bin/pytest ", "unset ", "mv ", "git ",
           ".venv/bin/xkit providers table --write docs/providers.md")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE, re.S)


def _commands() -> list[str]:
    return [line[2:] for block in _blocks("console") for line in block.splitlines()
            if line.startswith("$ ")]


def test_the_guide_is_there_with_its_example() -> None:
    assert GUIDE, "docs/providers.md has no '## Adding a provider' section"
    assert len(_blocks("yaml")) == 1 and len(_blocks("python")) == 1
    skipped = [c for c in _commands() if c.startswith(NOT_RUN)]
    assert any(c.startswith(".venv/bin/pytest tests/test_provider_flows.py -k acme-desk")
               for c in skipped)
    assert "export XKIT_PROVIDERS_DIRS=$PWD/my-providers" in _commands()


def test_the_offline_commands_of_the_guide_work_as_written(tmp_path: Path) -> None:
    (tmp_path / "src").symlink_to(ROOT / "src")  # the checkout, as the commands expect it
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "xkit").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m xkit "$@"\n')
    (bin_dir / "xkit").chmod(0o755)

    commands = [c for c in _commands() if not c.startswith(NOT_RUN)]
    copy = next(i for i, c in enumerate(commands) if c.startswith("cp ") and EXAMPLE in c)
    env = {**os.environ, "XKIT_LOG_LEVEL": "warning"}
    env.pop("XKIT_PROVIDERS_DIRS", None)

    def run(lines: list[str]) -> subprocess.CompletedProcess[str]:
        script = "set -eu\n" + "\n".join(lines) + "\n"
        return subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, text=True,
                              capture_output=True, timeout=300)

    copied = run(commands[: copy + 1])
    assert copied.returncode == 0, copied.stderr
    assert "slug: zendesk" in (tmp_path / EXAMPLE).read_text()  # the close template, copied
    (tmp_path / EXAMPLE).write_text(_blocks("yaml")[0])  # ...and filled in as step 2 shows

    rest = run(commands[copy + 1:])
    assert rest.returncode == 0, rest.stderr
    assert f"{EXAMPLE}: ok (Acme Desk, oauth2)" in rest.stdout  # as the guide shows it
    assert '"slug": "acme-desk"' in rest.stdout  # providers show, through XKIT_PROVIDERS_DIRS
    assert "Traceback" not in rest.stderr


def test_the_guides_case_describes_its_template(tmp_path: Path) -> None:
    namespace = {"ProviderCase": ProviderCase, "Document": Document, "TokenError": TokenError}
    case = eval(_blocks("python")[0].strip().rstrip(","), namespace)  # the doc's own example
    assert isinstance(case, ProviderCase)
    path = tmp_path / "acme-desk.yaml"
    path.write_text(_blocks("yaml")[0])
    template = load_template_file(path)

    values = {**template.resolve_settings(case.settings),
              **template.resolve_collected(case.collect)}
    endpoints = template.oauth2_endpoints(values)
    assert (endpoints.token_url, endpoints.token_auth_method, endpoints.pkce) == (
        case.token_url, case.client_auth, case.pkce)
    scope, extra = template.authorize_scopes(template.effective_scopes(list(case.scopes)))
    url = OAuthClient(client_id="cid", client_secret="-", authorize_url=endpoints.authorize_url,
                      token_url=endpoints.token_url, scope_separator=endpoints.scope_separator,
                      pkce=endpoints.pkce).authorization_url(
        redirect_uri="https://xkit.test/cb", scopes=scope, state="s", code_challenge="c",
        extra_params=extra)
    assert url.split("?")[0] == case.authorize_url
    assert f"scope={case.scope_params['scope'].replace(':', '%3A')}" in url
    assert case.token_error is not None
    code, message = template.describe_error(case.token_error.json["error"], "")
    assert message and case.token_error.says in message
    assert template.account is not None and template.account.url
    assert template.account_url(values) == case.documents[0].url
