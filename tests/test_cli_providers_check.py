"""``xkit providers check FILE…``, run as a contributor runs it: in a subprocess, on files not
installed anywhere, in their own directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from xkit.providers.registry import BUILTIN_TEMPLATES_DIR

pytestmark = pytest.mark.database_independent


def _check(directory: Path, *files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xkit", "providers", "check", *files],
                          cwd=directory, env={**os.environ, "XKIT_LOG_LEVEL": "warning"},
                          capture_output=True, text=True, timeout=120)


def _copy(directory: Path, builtin: str, slug: str, *edits: tuple[str, str]) -> str:
    """A built-in template copied under a new slug, with text edits; its file name."""
    text = (BUILTIN_TEMPLATES_DIR / f"{builtin}.yaml").read_text()
    text = text.replace(f"\nslug: {builtin}\n", f"\nslug: {slug}\n", 1)
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    (directory / f"{slug}.yaml").write_text(text)
    return f"{slug}.yaml"


def _line(directory: Path, file: str, needle: str) -> int:
    lines = (directory / file).read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if needle in line)


def test_good_templates_pass_with_a_short_ok_each(tmp_path: Path) -> None:
    first = _copy(tmp_path, "outlook-email", "acme-mail")
    second = _copy(tmp_path, "trello", "acme-boards")
    result = _check(tmp_path, first, second)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "acme-mail.yaml: ok (Outlook Email, oauth2)",
        "acme-boards.yaml: ok (Trello, api_key)",
    ]
    assert result.stderr == ""


def test_each_problem_names_file_line_and_field_and_the_exit_status_is_1(
        tmp_path: Path) -> None:
    typo = _copy(tmp_path, "outlook-email", "acme",
                 ("/{tenant}/oauth2/v2.0/token", "/{tenantt}/oauth2/v2.0/token"))
    unknown_key = _copy(tmp_path, "stripe", "acme-pay", ("\nname: Stripe\n", "\nnme: Stripe\n"))
    good = _copy(tmp_path, "trello", "acme-boards")
    result = _check(tmp_path, typo, unknown_key, good)

    assert result.returncode == 1
    problems = result.stderr.splitlines()
    assert (f"acme.yaml:{_line(tmp_path, typo, '{tenantt}')}: oauth2.token_url: "
            "unknown placeholder {tenantt}") in result.stderr
    assert (f"acme-pay.yaml:{_line(tmp_path, unknown_key, 'nme: Stripe')}: nme: "
            "is not a known key") in result.stderr
    assert any(p.startswith("acme-pay.yaml:") and ": name: is required" in p for p in problems)
    assert result.stdout.splitlines() == ["acme-boards.yaml: ok (Trello, api_key)"]
    assert "Traceback" not in result.stderr


def test_a_built_in_slug_a_wrong_file_name_broken_yaml_and_a_missing_file(
        tmp_path: Path) -> None:
    (tmp_path / "gmail.yaml").write_text((BUILTIN_TEMPLATES_DIR / "gmail.yaml").read_text())
    renamed = _copy(tmp_path, "trello", "boards")
    (tmp_path / renamed).rename(tmp_path / "acme-boards.yaml")
    (tmp_path / "broken.yaml").write_text("slug: broken\nname: [Broken\n")
    result = _check(tmp_path, "gmail.yaml", "acme-boards.yaml", "broken.yaml", "absent.yaml")

    assert result.returncode == 1
    slug_line = _line(tmp_path, "gmail.yaml", "slug: gmail")
    assert (f"gmail.yaml:{slug_line}: slug: 'gmail' is already a built-in template"
            in result.stderr)
    assert f"acme-boards.yaml:{_line(tmp_path, 'acme-boards.yaml', 'slug: boards')}: slug: " \
           "'boards' must match the file name (boards.yaml)" in result.stderr
    assert "broken.yaml:3: is not valid YAML" in result.stderr
    assert "absent.yaml:1: cannot be read" in result.stderr
    assert result.stdout == ""


def test_two_files_with_one_slug_clash_with_each_other(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    first = _copy(tmp_path, "trello", "acme-boards")
    second = _copy(tmp_path / "other", "trello", "acme-boards")
    result = _check(tmp_path, first, f"other/{second}")
    assert result.returncode == 1
    assert "other/acme-boards.yaml:" in result.stderr
    assert "'acme-boards' is also the slug of acme-boards.yaml" in result.stderr


def test_a_template_must_cite_its_sources(tmp_path: Path) -> None:
    source = "sources:\n  - https://developer.atlassian.com/cloud/trello/guides/rest-api/authorization/\n"
    unsourced = _copy(tmp_path, "trello", "acme-boards", (source, ""))
    result = _check(tmp_path, unsourced)
    assert result.returncode == 1
    assert "acme-boards.yaml:" in result.stderr and ": sources: is required" in result.stderr
