"""Loading provider templates: the built-in ones shipped in the package, plus operators' own.

Templates are read once at start-up and checked completely, so a broken file stops
``xkit serve`` with a message naming the file and the field (``outlook-email.yaml:
oauth2.token_url: unknown placeholder {tenantt}``) instead of failing at a user's first connect.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from xkit.providers.schema import PATTERN_HINTS, FieldError, ProviderTemplate

BUILTIN_TEMPLATES_DIR = Path(__file__).with_name("templates")
TEMPLATE_SUFFIXES = (".yaml", ".yml")


class TemplateError(Exception):
    """A provider template that cannot be used. The message names the file and the field."""


class ProviderRegistry:
    """Every provider template known to this installation, by slug."""

    def __init__(self, templates: Iterable[ProviderTemplate] = ()) -> None:
        self._templates: dict[str, ProviderTemplate] = {}
        for template in templates:
            if template.slug in self._templates:
                raise TemplateError(f"two provider templates have the slug {template.slug!r}")
            self._templates[template.slug] = template

    @classmethod
    def load(cls, extra_dirs: Sequence[Path] = ()) -> ProviderRegistry:
        """The built-in templates plus those in ``extra_dirs`` (``XKIT_PROVIDERS_DIRS``).

        An operator's template may not reuse a slug that is already taken — not even a
        built-in one — because connectors refer to templates by slug and a silent override
        would change what existing connectors do.
        """
        origins: dict[str, Path] = {}
        templates: list[ProviderTemplate] = []
        for directory in (BUILTIN_TEMPLATES_DIR, *(Path(d) for d in extra_dirs)):
            for path, template in load_template_dir(directory):
                if template.slug in origins:
                    raise TemplateError(f"{path}: slug {template.slug!r} is already used by "
                                        f"{origins[template.slug]}")
                origins[template.slug] = path
                templates.append(template)
        return cls(templates)

    def get(self, slug: str) -> ProviderTemplate:
        """The template with this slug; KeyError if there is none."""
        return self._templates[slug]

    def all(self) -> list[ProviderTemplate]:
        """Every template, sorted by name (the order the dashboard shows them in)."""
        return sorted(self._templates.values(), key=lambda t: (t.name.casefold(), t.slug))

    def __contains__(self, slug: object) -> bool:
        return slug in self._templates

    def __iter__(self) -> Iterator[ProviderTemplate]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self._templates)


def load_template_dir(directory: Path) -> list[tuple[Path, ProviderTemplate]]:
    """Every ``*.yaml`` / ``*.yml`` template in one directory (not its subdirectories)."""
    if not directory.is_dir():
        raise TemplateError(f"{directory}: no such directory of provider templates")
    paths = sorted(p for p in directory.iterdir()
                   if p.suffix in TEMPLATE_SUFFIXES and p.is_file())
    return [(path, load_template_file(path)) for path in paths]


def load_template_file(path: Path) -> ProviderTemplate:
    """Read and check one template; TemplateError names the file and the field at fault."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{name}: cannot be read: {exc}") from None
    try:
        data = yaml.load(text, Loader=StrictLoader)  # a SafeLoader: builds no objects
    except yaml.YAMLError as exc:
        raise TemplateError(f"{name}: is not valid YAML: {_one_line(str(exc))}") from None
    if data is None:
        raise TemplateError(f"{name}: is empty")
    if not isinstance(data, dict):
        raise TemplateError(f"{name}: must be a mapping of keys (slug, name, ...)")
    try:
        template = ProviderTemplate.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise TemplateError(f"{name}: {problems}") from None
    if template.slug != path.stem:
        raise TemplateError(f"{name}: slug: {template.slug!r} must match the file name "
                            f"({template.slug}.yaml)")
    return template


# ignore: a base chosen at run time (libyaml's loader when PyYAML has it) is Any to mypy.
class StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader, except that a key given twice is an error, not a silent
    overwrite (two ``token_url`` lines would otherwise keep only the last). Its parser is
    libyaml's where PyYAML has it: every process that starts reads all 158 templates, and the
    pure-Python parser spent 1.3 s on them (libyaml: a tenth of that)."""


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice", key_node.start_mark)
        seen.add(key)
    return dict(loader.construct_mapping(node))


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

_PLAIN_MESSAGES = {
    "missing": "is required but missing",
    "extra_forbidden": "is not a known key (check its spelling and indentation)",
    "string_type": "must be text (in YAML, put quotes around numbers, yes/no and dates)",
}


def _describe(error: ErrorDetails) -> str:
    """One pydantic error as ``path: message``."""
    path, message = located(error)
    return f"{path or '(top level)'}: {message}"


def located(error: ErrorDetails) -> tuple[str, str]:
    """One pydantic error as (dotted path of the field at fault, plain message): the path of
    a :class:`FieldError` is appended to its model's location."""
    location = [str(part) for part in error["loc"]]
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, FieldError):
        if cause.path:
            location.append(cause.path)
        message = cause.message
    elif error["type"] == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        message = PATTERN_HINTS.get(pattern, error["msg"])
    else:
        message = _PLAIN_MESSAGES.get(error["type"], error["msg"])
        message = message.removeprefix("Value error, ")
    return ".".join(location), message


def _one_line(text: str) -> str:
    return " ".join(text.split())
