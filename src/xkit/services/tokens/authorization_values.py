"""An authorization's encrypted columns, and the values its URLs are filled from.

Every ciphertext is bound to its row and column (associated data), so a value copied to
another authorization, or to another column of the same one, does not decrypt.
"""

from __future__ import annotations

import json

from xkit.crypto import Keyring
from xkit.db.models import Authorization, Connector
from xkit.services.configuration.keyring import column_aad
from xkit.services.tokens.records import GrantRecord, Sealed


def _aad(column: str, authorization_id: str) -> str:
    return column_aad("authorizations", column, authorization_id)


def encrypt_for(keyring: Keyring, authorization: Authorization, column: str, value: str) -> str:
    return keyring.encrypt(value, aad=_aad(column, authorization.id))


def decrypt_from(keyring: Keyring, authorization: Sealed, column: str) -> str | None:
    value = getattr(authorization, column)
    return None if value is None else keyring.decrypt(value, aad=_aad(column, authorization.id))


def collected_values(keyring: Keyring, authorization: GrantRecord | None) -> dict[str, str]:
    """What the end user typed in the collect step (API keys included), decrypted."""
    raw = decrypt_from(keyring, authorization, "collected") if authorization else None
    return json.loads(raw) if raw else {}


def effective_settings(keyring: Keyring, connector: Connector,
                       authorization: Authorization | None) -> dict[str, str]:
    """What URL placeholders are filled from: the connector's settings, then what this
    authorization's user typed in the collect step."""
    return {**connector.settings, **collected_values(keyring, authorization)}
