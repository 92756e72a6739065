"""A platform's branding: how its hosted catalog and popups look.

Stored in ``platforms.branding`` as JSON with exactly these keys, validated here so the
dashboard, the API and the catalog agree on what a valid value is:

- ``primary_color``: buttons and links, ``#rrggbb``
- ``background_color``: page background, ``#rrggbb``
- ``logo_url``: an http(s) image URL, or absent
- ``powered_by``: whether "Powered by xkit" is shown (default true)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from xkit.errors import FieldErrors
from xkit.services.configuration.validation import check_http_url

DEFAULT_BRANDING: dict[str, Any] = {
    "primary_color": "#2f5bd3",
    "background_color": "#ffffff",
    "logo_url": None,
    "powered_by": True,
}
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def effective_branding(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The stored values over the defaults; unknown keys are dropped."""
    return {key: (stored or {}).get(key, default) for key, default in DEFAULT_BRANDING.items()}


def check_branding(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a complete branding; errors name the field (``branding.<key>``), every one of
    them in ``details["errors"]``."""
    problems = FieldErrors()
    branding: dict[str, Any] = {}
    for key in ("primary_color", "background_color"):
        color = str(values.get(key) or DEFAULT_BRANDING[key]).strip()
        if not _COLOR.match(color):
            problems.add(f"branding.{key}",
                         f"{key.replace('_', ' ')} must be a colour like #2f5bd3")
        branding[key] = color.lower()
    logo = str(values.get("logo_url") or "").strip()
    branding["logo_url"] = None
    if logo:
        with problems.field("branding.logo_url"):
            branding["logo_url"] = check_http_url(logo, field="branding.logo_url")
    branding["powered_by"] = bool(values.get("powered_by"))
    problems.raise_if_any()
    return branding
