"""Dashboard sign-in: the one-time setup link, login sessions and their CSRF tokens.

Every credential here is random and high-entropy, so the database keeps only its SHA-256 and
looks rows up by that hash (a stolen database yields no working cookie or link). Passwords are
argon2 (see :mod:`xkit.services.admin.admins`).

A session ends at the first of: logout, ``absolute`` after login, or ``idle`` without a request.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.crypto import fingerprint
from xkit.db.models import AdminSession, AdminUser, OneTimeToken
from xkit.db.types import utcnow
from xkit.errors import Conflict, InvalidInput, Unauthorized
from xkit.services.admin import admins, audit
from xkit.services.connect import one_time_tokens

SETUP_PURPOSE = "admin_setup"
SETUP_TOKEN_TTL = dt.timedelta(hours=24)
# last_seen_at is written at most this often, so browsing is not a write per page view.
LAST_SEEN_GRANULARITY = dt.timedelta(minutes=1)


@functools.cache
def _dummy_hash() -> str:
    """Verified when the email is unknown, so a failed login takes as long either way."""
    return PasswordHasher().hash("xkit-timing-equaliser")


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison that treats a missing value as a mismatch."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


@dataclass(frozen=True)
class SessionPolicy:
    """How long a login lasts: at most ``absolute``, and ``idle`` without a request."""

    absolute: dt.timedelta
    idle: dt.timedelta


@dataclass(frozen=True)
class SignedIn:
    """An authenticated dashboard request: the admin and their session row."""

    admin: AdminUser
    session: AdminSession

    @property
    def actor(self) -> str:
        return f"admin:{self.admin.email}"


# --- the setup link ---------------------------------------------------------------------------

async def issue_setup_token(session: AsyncSession, *, ttl: dt.timedelta = SETUP_TOKEN_TTL) -> str:
    """A fresh single-use token for creating the first admin; only the hash is stored."""
    token = await one_time_tokens.issue(session, purpose=SETUP_PURPOSE, ttl=ttl)
    await session.commit()
    return token


async def setup_token_is_usable(session: AsyncSession, token: str) -> bool:
    """Whether ``token`` may still create the first admin (unused, unexpired, no admin yet)."""
    if not token or await admins.count_admins(session):
        return False
    return await one_time_tokens.is_live(session, purpose=SETUP_PURPOSE, token=token)


async def complete_setup(session: AsyncSession, *, token: str, email: str,
                         password: str) -> AdminUser:
    """Spend the setup token and create the first admin, a superuser, in one transaction.

    The token is claimed with a conditional UPDATE, so two browsers racing with one link
    create one admin; if the admin's fields are invalid nothing is spent.
    """
    refused = Conflict("this setup link has been used or has expired", code="setup_link_invalid")
    if not token or await admins.count_admins(session):
        raise refused
    if not await one_time_tokens.claim(session, purpose=SETUP_PURPOSE, token=token):
        await session.rollback()
        raise refused
    try:
        admin = await admins.create_admin(session, email=email, password=password,
                                          actor="setup_link", superuser=True)
    except Exception:
        await session.rollback()
        raise
    # Other links printed by earlier starts (or other replicas) have nothing left to do.
    await session.execute(delete(OneTimeToken).where(
        OneTimeToken.purpose == SETUP_PURPOSE, OneTimeToken.used_at.is_(None)))
    await session.commit()
    return admin


# --- login sessions ---------------------------------------------------------------------------

async def log_in(session: AsyncSession, *, email: str, password: str,
                 policy: SessionPolicy) -> tuple[str, SignedIn]:
    """Check the password and open a session; returns the cookie value (shown only here)."""
    admin = await session.scalar(select(AdminUser).where(
        AdminUser.email == email.strip().lower()))
    if admin is None:
        admins.verify_password(_dummy_hash(), password)
        raise Unauthorized("email or password is incorrect", code="login_failed")
    if not admins.verify_password(admin.password_hash, password):
        raise Unauthorized("email or password is incorrect", code="login_failed")
    return await open_session(session, admin, policy=policy)


async def open_session(session: AsyncSession, admin: AdminUser, *,
                       policy: SessionPolicy) -> tuple[str, SignedIn]:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    await _delete_expired(session, policy=policy, now=now)
    row = AdminSession(token_hash=fingerprint(token), admin_user_id=admin.id,
                       csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now,
                       expires_at=now + policy.absolute)
    session.add(row)
    admin.last_login_at = now
    audit.record(session, actor=f"admin:{admin.email}", action="admin.logged_in",
                 target_type="admin", target_id=admin.email)
    await session.commit()
    return token, SignedIn(admin=admin, session=row)


async def authenticate(session: AsyncSession, token: str | None, *,
                       policy: SessionPolicy) -> SignedIn | None:
    """The live session for a cookie value, or None (unknown, expired, or idle too long)."""
    if not token:
        return None
    row = (await session.execute(
        select(AdminSession, AdminUser).join(AdminUser, AdminUser.id == AdminSession.admin_user_id)
        .where(AdminSession.token_hash == fingerprint(token)))).first()
    if row is None:
        return None
    found, admin = row
    now = utcnow()
    if found.expires_at <= now or found.last_seen_at + policy.idle <= now:
        await session.delete(found)
        await session.commit()
        return None
    if now - found.last_seen_at > LAST_SEEN_GRANULARITY:
        found.last_seen_at = now
        await session.commit()
    return SignedIn(admin=admin, session=found)


async def log_out(session: AsyncSession, signed_in: SignedIn) -> None:
    await session.execute(delete(AdminSession).where(AdminSession.id == signed_in.session.id))
    await session.commit()


async def remember_platform(session: AsyncSession, signed_in: SignedIn, platform_id: str) -> None:
    """The platform ``/admin`` opens next time."""
    if signed_in.session.current_platform_id != platform_id:
        signed_in.session.current_platform_id = platform_id
        await session.commit()


async def _delete_expired(session: AsyncSession, *, policy: SessionPolicy,
                          now: dt.datetime) -> None:
    """Housekeeping at each login: drop sessions that can no longer authenticate."""
    await session.execute(delete(AdminSession).where(
        (AdminSession.expires_at <= now) | (AdminSession.last_seen_at <= now - policy.idle)))


def check_password_confirmation(password: str, confirmation: str) -> None:
    if password != confirmation:
        raise InvalidInput("the two passwords differ", details={"field": "password_confirmation"})
