"""Provider cases: developer tools and project management."""

from __future__ import annotations

from tests.provider_case import ProviderCase

CASES: tuple[ProviderCase, ...] = ()
