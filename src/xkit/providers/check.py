"""``xkit providers check FILE…``: a contributor's template checked before it is installed.

The same checks as start-up (:func:`xkit.providers.registry.load_template_file`), but every
problem of every file is reported, each with the line it is on — ``acme.yaml:14:
oauth2.token_url: unknown placeholder {tenantt}`` — so a contributor fixes a file in one pass
instead of restarting a server per mistake. Lines come from the YAML node positions
(:func:`yaml.compose`); a problem about the whole file (a missing key) is put on line 1.

A template is also checked against the built-in ones: its slug must not be taken, since an
installation refuses to start with two templates of one slug.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from xkit.providers.registry import (
    BUILTIN_TEMPLATES_DIR,
    StrictLoader,
    TemplateError,
    load_template_dir,
    located,
)
from xkit.providers.schema import ProviderTemplate


@dataclass(frozen=True)
class Problem:
    """One mistake in one file, where it is."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        field = f"{self.field}: " if self.field else ""
        return f"{self.file}:{self.line}: {field}{self.message}"


@dataclass(frozen=True)
class Checked:
    """A file's outcome: its template when it passed, else its problems."""

    file: str
    template: ProviderTemplate | None
    problems: tuple[Problem, ...]
    slug_line: int = 1


def check_files(paths: Sequence[Path], *, names: Sequence[str] | None = None,
                builtin_dir: Path = BUILTIN_TEMPLATES_DIR) -> list[Checked]:
    """Check each file; ``names`` are how to call them in messages (as typed, by default)."""
    shown = list(names) if names is not None else [str(p) for p in paths]
    builtins = _builtin_slugs(builtin_dir)
    results: list[Checked] = []
    seen: dict[str, str] = {}
    for path, name in zip(paths, shown, strict=True):
        checked = check_file(path, name, builtins=builtins, builtin_dir=builtin_dir)
        if checked.template is not None:
            slug = checked.template.slug
            if slug in seen:
                checked = Checked(name, None, (Problem(
                    name, checked.slug_line, "slug",
                    f"{slug!r} is also the slug of {seen[slug]}"),))
            else:
                seen[slug] = name
        results.append(checked)
    return results


def check_file(path: Path, name: str, *, builtins: dict[str, Path],
               builtin_dir: Path = BUILTIN_TEMPLATES_DIR) -> Checked:
    """Every problem of one template file, each on its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return _failed(name, 1, "", f"cannot be read: {exc.strerror or exc}")
    except UnicodeDecodeError:
        return _failed(name, 1, "", "cannot be read: it is not UTF-8 text")
    try:
        data = yaml.load(text, Loader=StrictLoader)  # a SafeLoader: builds no objects
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return _failed(name, mark.line + 1 if mark else 1, "",
                       f"is not valid YAML: {' '.join(str(exc.problem or exc).split())}")
    except yaml.YAMLError as exc:
        return _failed(name, 1, "", f"is not valid YAML: {' '.join(str(exc).split())}")
    if not isinstance(data, dict) or root is None:
        return _failed(name, 1, "", "must be a mapping of keys (slug, name, ...)")
    lines = _lines(root)
    try:
        template = ProviderTemplate.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field, message = located(error)
            problems.append(Problem(name, _line_of(lines, field), field, message))
        return Checked(name, None, tuple(problems))
    problems = []
    if template.slug != path.stem:
        problems.append(Problem(name, _line_of(lines, "slug"), "slug",
                                f"{template.slug!r} must match the file name "
                                f"({template.slug}.yaml)"))
    clash = builtins.get(template.slug)
    if clash is not None and clash.resolve() != path.resolve():
        problems.append(Problem(name, _line_of(lines, "slug"), "slug",
                                f"{template.slug!r} is already a built-in template "
                                f"({clash.name}); choose another slug"))
    return Checked(name, None if problems else template, tuple(problems),
                   _line_of(lines, "slug"))


def _failed(name: str, line: int, field: str, message: str) -> Checked:
    return Checked(name, None, (Problem(name, line, field, message),))


def _builtin_slugs(directory: Path) -> dict[str, Path]:
    try:
        return {t.slug: p for p, t in load_template_dir(directory)}
    except TemplateError:  # a broken built-in is start-up's to report; compare by file name
        return {p.stem: p for p in directory.glob("*.yaml")}


# -- where each field is -----------------------------------------------------------------------


def _lines(root: yaml.Node) -> dict[tuple[str, ...], int]:
    """Each field's path (keys and list indices as text) → its line, counted from 1: a key's
    own line for mapping entries, the item's line for list items."""
    found: dict[tuple[str, ...], int] = {(): root.start_mark.line + 1}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, str(key.value))
                found.setdefault(child, key.start_mark.line + 1)
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = (*path, str(index))
                found.setdefault(child, item.start_mark.line + 1)
                walk(item, child)

    walk(root, ())
    return found


def _line_of(lines: dict[tuple[str, ...], int], field: str) -> int:
    """The line of ``field`` (a dotted path), or of the nearest enclosing field the file has
    (a missing key is reported where its parent is). Keys may hold dots themselves
    (``unconfirmed``), so the longest matching run of parts wins."""
    parts = [part for part in field.split(".") if part] if field else []
    path: tuple[str, ...] = ()
    index = 0
    while index < len(parts):
        for end in range(len(parts), index, -1):  # the longest key that exists here
            candidate = (*path, ".".join(parts[index:end]))
            if candidate in lines:
                path, index = candidate, end
                break
        else:
            break
    return lines.get(path, 1)


def report(results: Iterable[Checked]) -> list[tuple[str, bool]]:
    """Lines to print, each with whether it is a problem: ``file: ok (Name, auth type)`` for a
    file that passed, one ``file:line: field: message`` per problem otherwise."""
    out: list[tuple[str, bool]] = []
    for checked in results:
        if checked.template is not None:
            out.append((f"{checked.file}: ok ({checked.template.name}, "
                        f"{checked.template.auth_type})", False))
        out.extend((str(problem), True) for problem in checked.problems)
    return out
