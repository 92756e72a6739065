"""Small helpers for tests that break provider templates on purpose."""

from __future__ import annotations

import copy
from typing import Any


def with_change(data: dict[str, Any], change: str, value: Any) -> dict[str, Any]:
    """A deep copy of a template document with one nested value replaced, the place named
    as a dot path (``oauth2.token_url``, ``extras.2.source``)."""
    changed = copy.deepcopy(data)
    *parents, last = change.split(".")
    target: Any = changed
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return changed
