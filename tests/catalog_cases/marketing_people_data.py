"""Provider cases: marketing, HR and recruiting, forms and analytics."""

from __future__ import annotations

from tests.provider_case import ProviderCase

CASES: tuple[ProviderCase, ...] = ()
