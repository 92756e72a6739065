"""Provider cases: accounting, payments, e-commerce and e-signature."""

from __future__ import annotations

from tests.provider_case import ProviderCase

CASES: tuple[ProviderCase, ...] = ()
