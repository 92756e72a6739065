"""Extras: what a provider tells xkit while connecting, kept on the authorization.

Some providers only reveal where an account lives once the token is issued — Salesforce's
``instance_url`` in the token response, QuickBooks' ``realmId`` on the callback, Mailchimp's
data centre from a metadata call, Xero's tenants from its connections list. A template says
where to find each value (``extras``) and which calls to make for them (``lookups``); this
module makes the calls, checks the values, and keeps them in ``authorizations.extras`` so
that backends receive them and placeholders (``{instance_url}``) can use them.

Secret extras (Slack's user token) are kept encrypted, bound to their row, under one key of
that JSON column, and are decrypted only for the developer's backend.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from xkit.crypto import Keyring
from xkit.db.models import SECRET_EXTRAS_KEY, Authorization
from xkit.errors import Conflict
from xkit.oauth import ProviderError, TokenSet
from xkit.oauth.errors import from_transport
from xkit.outbound import AddressRefused
from xkit.providers.schema import ExtraSpec, LookupSpec, ProviderTemplate
from xkit.services.configuration.keyring import column_aad
from xkit.services.connect.warnings import WARNINGS_KEY
from xkit.services.tokens.records import GrantRecord, Sealed

log = logging.getLogger("xkit.flow")

ENCRYPTED_KEY = SECRET_EXTRAS_KEY
#: Keys of ``authorizations.extras`` that are xkit's own bookkeeping, not the provider's values.
_NOT_EXTRAS = frozenset({ENCRYPTED_KEY, WARNINGS_KEY})

INCOMPLETE_MESSAGE = ("Signed in, but {provider} did not say everything this connection needs "
                      "({what}). Please try again.")


@dataclass
class Findings:
    """Everything learnt while connecting: each source's document, and the extras."""

    documents: dict[str, Any] = field(default_factory=dict, repr=False)
    values: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict, repr=False)

    def placeholders(self, template: ProviderTemplate) -> dict[str, str]:
        """Extras that fill ``{placeholders}`` (never secret or json ones)."""
        return _placeholder_values(template, self.values)


async def gather(http: httpx.AsyncClient, template: ProviderTemplate, settings: Mapping[str, str],
                 tokens: TokenSet, callback: Mapping[str, str]) -> Findings:
    """Read the extras from the callback and the token response, then run the lookups in
    order, each able to use what was found before it.

    Raises :class:`ProviderError` when a lookup fails and :class:`Conflict` when a required
    extra is missing or a value is not what the template allows.
    """
    findings = Findings(documents={"callback": dict(callback), "token": tokens.response})
    _take(template, findings, "callback")
    _take(template, findings, "token")
    for lookup in template.lookups:
        values = {**settings, **findings.placeholders(template)}
        url = template.render_optional(lookup.url, values)
        if url is None:
            continue
        headers = {**template.render_headers(lookup.headers, values),
                   **template.token_header(tokens.access_token, lookup)}
        findings.documents[lookup.name] = await fetch_json(
            http, lookup.method, url, headers, lookup.body, failure=_lookup_failure(lookup))
        _take(template, findings, lookup.name)
    for extra in template.extras:
        if extra.required and extra.name not in findings.values | findings.secrets:
            raise Conflict(_incomplete(template, extra), code=f"missing_{extra.name}")
    return findings


def store(keyring: Keyring, authorization: Authorization, findings: Findings) -> None:
    """Keep the extras on the authorization (secret ones encrypted)."""
    kept = {k: v for k, v in authorization.extras.items() if k != ENCRYPTED_KEY}
    kept.update(findings.values)
    secrets = {**_decrypted(keyring, authorization), **findings.secrets}
    if secrets:
        kept[ENCRYPTED_KEY] = keyring.encrypt(json.dumps(secrets), aad=_aad(authorization))
    authorization.extras = kept


def refresh_from_token(keyring: Keyring, template: ProviderTemplate,
                       authorization: Authorization, tokens: TokenSet) -> None:
    """After a refresh: update the token-sourced extras the new response repeats (Salesforce
    sends ``instance_url`` again). A value that no longer passes its checks is ignored, so
    a strange refresh answer cannot repoint a working connection."""
    findings = Findings(documents={"token": tokens.response})
    try:
        _take(template, findings, "token")
    except Conflict as exc:
        log.warning("authorization %s: refresh answer ignored for extras: %s",
                    authorization.id, exc.code)
        return
    if findings.values or findings.secrets:
        store(keyring, authorization, findings)


def for_backend(keyring: Keyring, authorization: GrantRecord) -> dict[str, Any]:
    """The extras as the developer's backend receives them, secret ones decrypted."""
    public = {k: v for k, v in authorization.extras.items() if k not in _NOT_EXTRAS}
    return {**public, **_decrypted(keyring, authorization)}


def placeholder_values(template: ProviderTemplate,
                       authorization: Authorization | None) -> dict[str, str]:
    """The stored extras that fill placeholders for this template."""
    return _placeholder_values(template, authorization.extras if authorization else {})


async def fetch_json(http: httpx.AsyncClient, method: str, url: str, headers: dict[str, str],
                     body: Any = None, *, failure: ProviderError) -> Any:
    """GET or POST with the new token and read a JSON answer; ``failure`` (with the HTTP
    status filled in) when the provider refuses or answers something else."""
    content: dict[str, Any] = {"json": body} if body is not None else {}
    try:
        response = await http.request(method, url, headers={"Accept": "application/json",
                                                            **headers}, **content)
    except AddressRefused as exc:  # the connector's configuration, not a passing fault
        raise from_transport(exc) from None
    except httpx.HTTPError:
        raise _with(failure, transient=True) from None
    if response.status_code != 200:
        status = response.status_code
        raise _with(failure, http_status=status, transient=failure.transient or status >= 500
                    or status == 429)
    try:
        return response.json()
    except ValueError:
        raise _with(failure, transient=True) from None


# --- helpers ----------------------------------------------------------------------------------

def _take(template: ProviderTemplate, findings: Findings, source: str) -> None:
    document = findings.documents.get(source)
    for extra in template.extras:
        if extra.source != source:
            continue
        value = extra.read(document) if document is not None else None
        if value is None or value == "":
            continue
        try:
            checked = extra.check(value)
        except ValueError as exc:
            raise Conflict(_incomplete(template, extra), code=f"invalid_{extra.name}",
                           details={"reason": str(exc)}) from None
        (findings.secrets if extra.secret else findings.values)[extra.name] = checked


def _placeholder_values(template: ProviderTemplate, values: Mapping[str, Any]) -> dict[str, str]:
    return {extra.name: values[extra.name] for extra in template.placeholder_extras
            if isinstance(values.get(extra.name), str)}


def _incomplete(template: ProviderTemplate, extra: ExtraSpec) -> str:
    for code in (f"missing_{extra.name}", f"invalid_{extra.name}"):
        if template.error_message(code):
            return template.error_message(code) or ""
    return INCOMPLETE_MESSAGE.format(provider=template.name,
                                     what=extra.description or extra.name)


def _lookup_failure(lookup: LookupSpec) -> ProviderError:
    return ProviderError(code="lookup_failed", description=f"the {lookup.name} lookup failed")


def _with(error: ProviderError, **changes: Any) -> ProviderError:
    return dataclasses.replace(error, **changes)


def _aad(authorization: Sealed) -> str:
    return column_aad("authorizations", "extras", authorization.id)


def _decrypted(keyring: Keyring, authorization: GrantRecord) -> dict[str, Any]:
    ciphertext = authorization.extras.get(ENCRYPTED_KEY)
    if not isinstance(ciphertext, str):
        return {}
    value = json.loads(keyring.decrypt(ciphertext, aad=_aad(authorization)))
    return value if isinstance(value, dict) else {}
