"""Provider cases: email, calendars, meetings, chat and files."""

from __future__ import annotations

from tests.provider_case import ProviderCase

CASES: tuple[ProviderCase, ...] = ()
