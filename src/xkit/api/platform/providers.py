from __future__ import annotations

from fastapi import APIRouter

from xkit.api.deps import CallerDep, RuntimeDep
from xkit.api.schemas import ErrorResponse, ProviderDetail, ProviderList
from xkit.errors import NotFound
from xkit.providers.marks import mark_path
from xkit.services.configuration.providers import describe_template, summarize_template

router = APIRouter(prefix="/providers", tags=["providers"])


@router.get(
    "",
    response_model=ProviderList,
    summary="Provider templates connectors can be made from",
)
async def list_providers(_caller: CallerDep, runtime: RuntimeDep) -> ProviderList:
    public_url = runtime.settings.public_url
    return ProviderList.model_validate({"providers": [
        {**summarize_template(t), "mark_url": f"{public_url}{mark_path(t)}"}
        for t in runtime.providers.all()
    ]})


@router.get(
    "/{slug}",
    response_model=ProviderDetail,
    summary="One provider template: scopes, settings, setup guide",
    responses={404: {"model": ErrorResponse}},
)
async def get_provider(slug: str, _caller: CallerDep, runtime: RuntimeDep) -> ProviderDetail:
    try:
        template = runtime.providers.get(slug)
    except KeyError:
        raise NotFound(f"no provider template {slug!r}", code="unknown_provider") from None
    return ProviderDetail.model_validate(describe_template(template))
