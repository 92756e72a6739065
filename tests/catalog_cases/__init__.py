"""Provider cases of the catalog's families, one module each (see ``tests/provider_case.py``).

Each module holds ``CASES``: one case per template of its family, and more where a template
has variants. ``tests/provider_cases.py`` adds them all to the catalog's cases.
"""

from __future__ import annotations

from tests.catalog_cases import (
    commerce_finance,
    communication,
    crm_support,
    devtools_projects,
    marketing_people_data,
)
from tests.provider_case import ProviderCase

FAMILIES: tuple[tuple[ProviderCase, ...], ...] = (
    crm_support.CASES,
    communication.CASES,
    devtools_projects.CASES,
    commerce_finance.CASES,
    marketing_people_data.CASES,
)
