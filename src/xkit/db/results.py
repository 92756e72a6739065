"""What a statement's result tells beyond its rows.

``AsyncSession.execute`` is typed to return a plain ``Result``, but an ``UPDATE``, ``DELETE``
or ``INSERT`` always comes back as a ``CursorResult``, the one that knows how many rows the
statement matched. Compare-and-set writes (leases, one-time tokens, state claims) decide on
that count, so it is read here, narrowed once, rather than with a type-ignore at each caller.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, Result


def rows_matched(result: Result[Any]) -> int:
    """How many rows the data-changing statement behind ``result`` matched."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"{type(result).__name__} of a statement that changes no rows")
    return result.rowcount
