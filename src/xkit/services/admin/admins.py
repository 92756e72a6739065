"""Dashboard administrators: argon2-hashed passwords and which platforms each may manage."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import AdminUser, PlatformAdmin
from xkit.errors import Conflict, FieldErrors, InvalidInput
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


def check_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise InvalidInput(
            "enter an email address like dev@example.com", details={"field": "email"}
        )
    return email


def new_admin_problems(email: str, password: str,
                       confirmation: str | None = None) -> dict[str, str]:
    """Everything wrong with a new admin's email and password (field → message), so the setup
    form names every problem at once instead of one per submit."""
    problems = FieldErrors()
    with problems.field("email"):
        check_email(email)
    with problems.field("password"):
        check_password_strength(password)
    if confirmation is not None and password != confirmation:
        problems.add("password_confirmation", "the two passwords differ")
    return problems.errors


async def count_admins(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(AdminUser)) or 0)


async def create_admin(
    session: AsyncSession, *, email: str, password: str, actor: str, superuser: bool = False
) -> AdminUser:
    email = check_email(email)
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
