"""``api_key``: a key (or key and token) the end user pastes, sent in a header or a query
parameter exactly as the template's ``api_key`` block says."""

from __future__ import annotations

from collections.abc import Mapping

from xkit.providers.schema import ProviderTemplate
from xkit.services.auth_types.static import StaticCredentials
from xkit.services.tokens.provider_http import RequestAuth


class ApiKey(StaticCredentials):
    name = "api_key"

    def credentials(self, template: ProviderTemplate, values: Mapping[str, str]) -> RequestAuth:
        spec = template.api_key
        assert spec is not None  # required for this auth type by the template loader
        value = template.render_text(spec.value, values)
        if spec.placement == "query":
            return RequestAuth(query={spec.name: value})
        return RequestAuth(headers={spec.name.lower(): value})
