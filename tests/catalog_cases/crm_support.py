"""Provider cases: CRM, sales and customer support."""

from __future__ import annotations

from tests.provider_case import ProviderCase

CASES: tuple[ProviderCase, ...] = ()
