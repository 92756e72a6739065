"""``basic``: HTTP Basic authentication (RFC 7617) from what the end user typed, such as an
email and an API token, or a secret key as the user name and no password."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from xkit.providers.schema import ProviderTemplate
from xkit.services.auth_types.static import StaticCredentials
from xkit.services.tokens.provider_http import RequestAuth


class Basic(StaticCredentials):
    name = "basic"

    def credentials(self, template: ProviderTemplate, values: Mapping[str, str]) -> RequestAuth:
        spec = template.basic
        assert spec is not None  # required for this auth type by the template loader
        username = template.render_text(spec.username, values)
        password = template.render_text(spec.password, values)
        pair = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return RequestAuth(headers={"authorization": f"Basic {pair}"})
