"""How provider templates are shown to developers (API and dashboard alike)."""

from __future__ import annotations

from typing import Any

from xkit.providers.schema import ProviderTemplate

SUMMARY_FIELDS = {"slug", "name", "description", "auth_type", "categories", "mark"}


def summarize_template(template: ProviderTemplate) -> dict[str, Any]:
    return template.model_dump(mode="json", include=SUMMARY_FIELDS)


def describe_template(template: ProviderTemplate) -> dict[str, Any]:
    """The whole template (it is public data) plus the scopes a connector can never drop."""
    return {**template.model_dump(mode="json"), "required_scopes": list(template.required_scopes)}
