"""The declarative base every feature's tables share, and the column types they use.

Each capability declares its own tables on this `Base` (calls in `zentrale.calls.models`,
recordings in `zentrale.recording.models`, users in `zentrale.core.models`, ...);
`zentrale.migrations.schema` imports them all so Alembic sees the whole schema. Models carry
no relationships on purpose: rows read by the stores are returned detached, and nothing may
lazy-load behind an `await`.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Mapping
from typing import Any, ClassVar

from sqlalchemy import (
    DateTime,
    Dialect,
    Enum,
    MetaData,
    String,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so later migrations can address them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


ID = String(36)


NUMBER = String(32)


NAME = String(128)


LABEL = String(32)


def _label(kind: type[enum.StrEnum]) -> Enum:
    """A VARCHAR column checked by Python (no CHECK constraint: new values need no migration)."""
    return Enum(
        kind,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
    )


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC timestamp on both databases (SQLite keeps no zone, so we add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        """Refuse naive datetimes and store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} (give a timezone)")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base holding zentrale's metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UtcDateTime()}


def column_values(model: type[Base], values: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return VALUES, or raise ValueError naming the keys that are not columns of MODEL's table.

    Statements built once take a row's values as parameters named as columns, and SQLAlchemy
    leaves a parameter that names no column out without a word.
    """
    if unknown := values.keys() - _column_names(model):
        table = model.__table__.name  # type: ignore[attr-defined]
        raise ValueError(f"not columns of {table}: {', '.join(sorted(unknown))}")
    return values


@functools.cache
def _column_names(model: type[Base]) -> frozenset[str]:
    return frozenset(model.__table__.columns.keys())
