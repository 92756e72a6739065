from __future__ import annotations

from fastapi import APIRouter

from xkit.api.deps import PlatformDep
from xkit.api.schemas import PlatformOut

router = APIRouter(tags=["platform"])


@router.get("/platform", response_model=PlatformOut, summary="The platform this API key belongs to")
async def get_platform(platform: PlatformDep) -> PlatformOut:
    return PlatformOut.model_validate(platform, from_attributes=True)
