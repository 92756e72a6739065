"""Cursors for the Platform API's lists: the last id a page showed, opaque to clients.

Lists page by id, a stable order that a cursor resumes exactly whatever is added or removed
meanwhile, which offsets cannot. The id is base64-wrapped so clients treat it as a token
rather than build their own; anything this module did not make is refused as a 422.
"""

from __future__ import annotations

import base64
import binascii

from xkit.errors import InvalidInput


def encode_cursor(last_id: str | None) -> str | None:
    if last_id is None:
        return None
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The last id a page showed; anything not made by :func:`encode_cursor` is a 422."""
    if cursor is None:
        return None
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        decoded = ""
    if not decoded or len(decoded) > 64 or not decoded.isprintable():
        raise InvalidInput("the cursor is not one this API gave; start without one",
                           details={"field": "cursor"})
    return decoded
