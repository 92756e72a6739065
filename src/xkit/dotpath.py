"""Dot paths into JSON documents (``"authed_user.access_token"``, ``"0.id"``).

Provider templates name the fields they read — an account id, a token nested in a provider's
answer — as dot paths. The OAuth layer and the template schema both follow them, so the one
small reader lives here, depending on nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def dig(document: Any, path: str) -> Any:
    """Follow a dot path through dicts and lists (``"emails.0.value"``); None if absent."""
    current = document
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current
