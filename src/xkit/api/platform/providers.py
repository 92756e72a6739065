from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from xkit.api.deps import CallerDep, RuntimeDep
from xkit.errors import NotFound
from xkit.services.providers import describe_template, summarize_template

router = APIRouter(prefix="/providers", tags=["providers"])


@router.get("", summary="Provider templates connectors can be made from")
async def list_providers(_caller: CallerDep, runtime: RuntimeDep) -> dict[str, Any]:
    return {"providers": [summarize_template(t) for t in runtime.providers.all()]}


@router.get("/{slug}", summary="One provider template: scopes, settings, setup guide")
async def get_provider(slug: str, _caller: CallerDep, runtime: RuntimeDep) -> dict[str, Any]:
    try:
        template = runtime.providers.get(slug)
    except KeyError:
        raise NotFound(f"no provider template {slug!r}", code="unknown_provider") from None
    return describe_template(template)
