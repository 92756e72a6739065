"""Dashboard administrators: argon2-hashed passwords and which platforms each may manage."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import AdminUser, PlatformAdmin
from xkit.errors import Conflict, InvalidInput
from xkit.services.admin import audit

_hasher = PasswordHasher()
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10


def check_password_strength(password: str) -> None:
    if len(password) > 1000:
        raise InvalidInput(
            "password must be at most 1000 characters", details={"field": "password"}
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters",
            details={"field": "password"},
        )


async def count_admins(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(AdminUser)) or 0)


async def create_admin(
    session: AsyncSession, *, email: str, password: str, actor: str, superuser: bool = False
) -> AdminUser:
    email = email.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise InvalidInput(
            "enter an email address like dev@example.com", details={"field": "email"}
        )
    check_password_strength(password)
    if await session.scalar(select(AdminUser.id).where(AdminUser.email == email)):
        raise Conflict(
            f"an admin with email {email} already exists",
            code="email_taken",
            details={"field": "email"},
        )
    admin = AdminUser(email=email, password_hash=_hasher.hash(password), is_superuser=superuser)
    session.add(admin)
    await session.flush()
    audit.record(session, actor=actor, action="admin.created", target_type="admin", target_id=email)
    await session.commit()
    return admin


async def grant_platform(
    session: AsyncSession, admin: AdminUser, platform_id: str, *, actor: str
) -> None:
    exists = await session.get(PlatformAdmin, (platform_id, admin.id))
    if exists is None:
        session.add(PlatformAdmin(platform_id=platform_id, admin_user_id=admin.id))
        audit.record(
            session,
            actor=actor,
            action="admin.granted",
            platform_id=platform_id,
            target_type="admin",
            target_id=admin.email,
        )
        await session.commit()


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
