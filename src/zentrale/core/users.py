"""`UserStore`: users, their personal API tokens and their browser sessions.

Passwords are Argon2id hashes; tokens and session ids are kept as SHA-256 digests only.
The CLI (`zentrale users`) and the sign-in routes are its callers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from zentrale.base.clock import Clock, utcnow
from zentrale.base.errors import ConflictError, InvalidRequestError, NotFoundError
from zentrale.core import credentials, totp
from zentrale.core.errors import TokenNotFoundError
from zentrale.core.models import ApiToken, BrowserSession, Role, User
from zentrale.core.passwords import hash_password
from zentrale.db.session import Database


class UserExistsError(InvalidRequestError):
    """The user name is taken."""

    code = "user-exists"


class UserNotFoundError(NotFoundError):
    """No user has this name."""

    code = "user-not-found"


@dataclass(frozen=True, slots=True, kw_only=True)
class NewUser:
    """What an administrator gives to create a user."""

    username: str
    display_name: str
    password: str
    role: Role
    departments: Sequence[str] = ()
    agent_endpoint: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token as shown once to its owner, and its row."""

    secret: str
    row: ApiToken


class UserStore:
    """Users, tokens and sessions on the metadata database."""

    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def add(self, new: NewUser) -> User:
        """Create a user; raise UserExistsError if the name is taken."""
        user = User(
            id=str(uuid.uuid4()),
            username=new.username,
            display_name=new.display_name,
            password_hash=hash_password(new.password),
            role=new.role,
            departments=sorted(set(new.departments)),
            agent_endpoint=new.agent_endpoint,
            disabled=False,
            created_at=self._clock(),
        )
        try:
            async with self._db.write() as session:
                session.add(user)
        except IntegrityError:
            raise UserExistsError(f"user {new.username!r} exists already") from None
        return user

    async def by_name(self, username: str) -> User | None:
        """Return the user called USERNAME, or None."""
        async with self._db.read() as session:
            user: User | None = await session.scalar(select(User).where(User.username == username))
        return user

    async def by_id(self, user_id: str) -> User | None:
        """Return the user with USER_ID, or None."""
        async with self._db.read() as session:
            return await session.get(User, user_id)

    async def all(self) -> list[User]:
        """Return every user, by name."""
        async with self._db.read() as session:
            return list(await session.scalars(select(User).order_by(User.username)))

    async def set_disabled(self, username: str, disabled: bool = True) -> User:
        """Disable (or enable) a user; disabling ends their sessions and revokes their tokens,
        so enabling the user again does not bring old (maybe leaked) credentials back."""
        async with self._db.write() as session:
            user = await session.scalar(select(User).where(User.username == username))
            if user is None:
                raise UserNotFoundError(f"no user {username!r}")
            user.disabled = disabled
            if disabled:
                await session.execute(
                    delete(BrowserSession).where(BrowserSession.user_id == user.id)
                )
                await session.execute(
                    update(ApiToken)
                    .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=self._clock())
                )
        return user

    async def issue_token(self, user_id: str, name: str, days: int) -> IssuedToken:
        """Create an API token valid for DAYS; the secret is returned once, never stored."""
        secret, now = credentials.new_token(), self._clock()
        row = ApiToken(
            id=str(uuid.uuid4()),
            user_id=user_id,
            name=name,
            token_hash=credentials.digest(secret),
            created_at=now,
            expires_at=now + dt.timedelta(days=days),
            revoked_at=None,
            last_used_at=None,
        )
        async with self._db.write() as session:
            session.add(row)
        return IssuedToken(secret, row)

    async def tokens(self, user_id: str) -> list[ApiToken]:
        """Return the user's tokens, newest first."""
        query = select(ApiToken).where(ApiToken.user_id == user_id)
        async with self._db.read() as session:
            return list(await session.scalars(query.order_by(ApiToken.created_at.desc())))

    async def revoke_token(self, user_id: str, token_id: str) -> None:
        """Revoke one of the user's tokens; raise TokenNotFoundError."""
        statement = (
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.user_id == user_id)
            .values(revoked_at=self._clock())
        )
        async with self._db.write() as session:
            result = await session.execute(statement)
            if getattr(result, "rowcount", 0) != 1:
                raise TokenNotFoundError(f"no token {token_id!r}")

    async def user_for_token(self, secret: str) -> User | None:
        """Return the enabled owner of a valid, unrevoked, unexpired token, or None."""
        now = self._clock()
        query = (
            select(User, ApiToken)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == credentials.digest(secret))
        )
        async with self._db.read() as session:
            row = (await session.execute(query)).one_or_none()
        if row is None:
            return None
        user: User = row[0]
        token: ApiToken = row[1]
        if user.disabled or token.revoked_at is not None or token.expires_at <= now:
            return None
        return user

    async def open_session(
        self, user_id: str, hours: float, address: str | None
    ) -> tuple[str, str]:
        """Start a browser session; return (session id, CSRF token)."""
        session_id, csrf, now = (
            credentials.new_session_id(),
            credentials.new_csrf_token(),
            self._clock(),
        )
        row = BrowserSession(
            id_hash=credentials.digest(session_id),
            user_id=user_id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + dt.timedelta(hours=hours),
            address=address,
        )
        async with self._db.write() as session:
            session.add(row)
        return session_id, csrf

    async def session(self, session_id: str) -> tuple[User, BrowserSession] | None:
        """Return the enabled user and row of a live session, or None."""
        query = (
            select(User, BrowserSession)
            .join(BrowserSession, BrowserSession.user_id == User.id)
            .where(BrowserSession.id_hash == credentials.digest(session_id))
        )
        async with self._db.read() as session:
            row = (await session.execute(query)).one_or_none()
        if row is None or row[0].disabled or row[1].expires_at <= self._clock():
            return None
        return row[0], row[1]

    async def close_session(self, session_id: str) -> None:
        """End a browser session (idempotent)."""
        statement = delete(BrowserSession).where(
            BrowserSession.id_hash == credentials.digest(session_id)
        )
        async with self._db.write() as session:
            await session.execute(statement)


class SecondFactorError(ConflictError):
    """Enrolment in the second factor cannot go on (already on, not started, wrong code)."""

    code = "second-factor"


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A started TOTP enrolment: the secret and the URI for the authenticator app."""

    secret: str
    uri: str


class SecondFactors:
    """Enrol, check and reset users' second factor (core.totp) in the users table."""

    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def start(self, user_id: str) -> Enrolment:
        """Make a new secret for USER_ID (not asked for until `confirm`); refuse if enrolled."""
        async with self._db.write() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UserNotFoundError(f"no user {user_id!r}")
            if user.totp_confirmed_at is not None:
                raise SecondFactorError("a second factor is set up already; ask for a reset")
            user.totp_secret = totp.new_secret()
            return Enrolment(
                user.totp_secret, totp.provisioning_uri(user.totp_secret, user.username)
            )

    async def confirm(self, user_id: str, code: str) -> list[str]:
        """Switch the second factor on with a first good CODE; return the recovery codes."""
        async with self._db.write() as session:
            user = await session.get(User, user_id)
            if user is None or user.totp_secret is None or user.totp_confirmed_at is not None:
                raise SecondFactorError("start the enrolment first")
            step = totp.matching_step(user.totp_secret, code, self._clock(), None)
            if step is None:
                raise SecondFactorError("the code does not match; check the phone's clock")
            codes = totp.new_recovery_codes()
            user.totp_confirmed_at, user.totp_last_step = self._clock(), step
            user.recovery_codes = [totp.hashed(c) for c in codes]
            return codes

    async def enrol(self, username: str) -> tuple[Enrolment, list[str]]:
        """Enrol USERNAME at once (an administrator at the server): secret and recovery codes."""
        async with self._db.write() as session:
            user = await session.scalar(select(User).where(User.username == username))
            if user is None:
                raise UserNotFoundError(f"no user {username!r}")
            codes = totp.new_recovery_codes()
            user.totp_secret = totp.new_secret()
            user.totp_confirmed_at, user.totp_last_step = self._clock(), None
            user.recovery_codes = [totp.hashed(c) for c in codes]
            return Enrolment(
                user.totp_secret, totp.provisioning_uri(user.totp_secret, username)
            ), codes

    async def reset(self, username: str) -> User:
        """Switch USERNAME's second factor off (lost phone); they enrol again."""
        async with self._db.write() as session:
            user = await session.scalar(select(User).where(User.username == username))
            if user is None:
                raise UserNotFoundError(f"no user {username!r}")
            user.totp_secret = user.totp_confirmed_at = user.totp_last_step = None
            user.recovery_codes = None
            return user

    async def check(self, user_id: str, code: str) -> str | None:
        """Accept CODE (a TOTP code once, or an unused recovery code); return which, or None."""
        async with self._db.write() as session:
            user = await session.get(User, user_id, with_for_update=True)
            if user is None or user.totp_secret is None:
                return None
            step = totp.matching_step(user.totp_secret, code, self._clock(), user.totp_last_step)
            if step is not None:
                user.totp_last_step = step
                return "totp"
            digest = totp.hashed(code)
            if digest in (user.recovery_codes or []):
                user.recovery_codes = [c for c in user.recovery_codes or [] if c != digest]
                return "recovery-code"
            return None
