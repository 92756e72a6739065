"""Provider cases of the catalog's families, one module each (see ``tests/provider_case.py``).

Each module holds ``CASES``: one case per template of its family, and more where a template
has variants. ``tests/provider_cases.py`` adds them all to the catalog's cases. A module may
also name, in ``WITHOUT_LOGO``, its templates whose brand Simple Icons does not carry (they
show our glyph for their category instead).
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

#: Templates whose brand has no Simple Icons logo (see tests/test_provider_marks.py).
WITHOUT_LOGO: frozenset[str] = frozenset().union(*(
    getattr(module, "WITHOUT_LOGO", frozenset())
    for module in (crm_support, communication, devtools_projects, commerce_finance,
                   marketing_people_data)))
