"""OAuth 2.0 protocol only: authorize URLs, code exchange, refresh, revocation, error reading.

Nothing here knows about platforms, connectors or the database; the services layer builds an
:class:`~xkit.oauth.client.OAuthClient` from a connector and its provider template.
"""

from xkit.oauth.client import OAuthClient, TokenSet, new_pkce_pair
from xkit.oauth.errors import ProviderError

__all__ = ["OAuthClient", "ProviderError", "TokenSet", "new_pkce_pair"]
