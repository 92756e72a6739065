"""The catalog table in ``docs/providers.md`` is generated from the built-in templates and kept
in step with them: adding, renaming or re-sourcing a template means regenerating it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from xkit.providers import catalog_table
from xkit.providers.registry import ProviderRegistry

pytestmark = pytest.mark.database_independent

DOC = Path(__file__).resolve().parents[1] / "docs" / "providers.md"
REGENERATE = "xkit providers table --write docs/providers.md"


def _xkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xkit", *args], cwd=cwd,
                          env={**os.environ, "XKIT_LOG_LEVEL": "warning"},
                          capture_output=True, text=True, timeout=120)


def test_the_docs_catalog_table_matches_the_templates() -> None:
    expected = catalog_table.render(ProviderRegistry.load().all())
    shown = catalog_table.between_markers(DOC.read_text())
    assert shown, f"docs/providers.md lost its catalog markers ({catalog_table.START})"
    assert shown == expected, f"the catalog table is out of date: run `{REGENERATE}`"


def test_every_template_is_a_row_with_its_category_auth_type_sources_and_gaps() -> None:
    shown = catalog_table.between_markers(DOC.read_text())
    rows = {line.split(" | ")[1].strip("`"): line for line in shown.splitlines()[2:]}
    registry = ProviderRegistry.load()
    assert set(rows) == {t.slug for t in registry.all()}
    for template in registry.all():
        row = rows[template.slug]
        assert template.name in row and f"`{template.auth_type}`" in row
        assert ", ".join(template.categories) in row
        assert all(f"({url})" in row for url in template.sources)
        assert all(f"`{topic}`" in row for topic in template.unconfirmed)
    assert "**not confirmed**: `oauth2.pkce`" in rows["notion"]
    assert "nothing marked unconfirmed" in rows["outlook-email"]


def test_the_generator_rewrites_a_stale_table_and_prints_the_same(tmp_path: Path) -> None:
    stale = (f"# Providers\n\nBefore.\n\n{catalog_table.START}\n| old | table |\n"
             f"{catalog_table.END}\n\nAfter.\n")
    doc = tmp_path / "providers.md"
    doc.write_text(stale)

    written = _xkit("providers", "table", "--write", str(doc), cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert "catalog table of" in written.stdout
    text = doc.read_text()
    assert text.startswith("# Providers\n\nBefore.\n\n") and text.endswith("\n\nAfter.\n")
    assert "| old | table |" not in text
    printed = _xkit("providers", "table", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert catalog_table.between_markers(text) == printed.stdout
    assert "| Outlook Email | `outlook-email` | email, productivity | `oauth2` |" in printed.stdout

    again = _xkit("providers", "table", "--write", str(doc), cwd=tmp_path)
    assert again.returncode == 0 and doc.read_text() == text  # regenerating changes nothing


def test_a_document_without_markers_is_refused_and_left_alone(tmp_path: Path) -> None:
    doc = tmp_path / "notes.md"
    doc.write_text("# Notes\n")
    refused = _xkit("providers", "table", "--write", str(doc), cwd=tmp_path)
    assert refused.returncode == 2
    assert "catalog-table:start" in refused.stderr and "Traceback" not in refused.stderr
    assert doc.read_text() == "# Notes\n"
