"""Every error zentrale raises on purpose derives from one root, is named `...Error`, and
carries a stable code of its own; the HTTP edge maps each kind to one status."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import zentrale
from zentrale.api.errors import STATUS, status_of
from zentrale.base import errors as kinds
from zentrale.base.errors import ZentraleError
from zentrale.customers.errors import CustomerNotFoundError, NumberTakenError
from zentrale.recording.errors import RecordingNotFoundError

# Alembic's environment runs migrations when imported; migration scripts are data, not API.
SKIPPED = ("zentrale.migrations.env", "zentrale.migrations.versions", "zentrale.testing")


def zentrale_exceptions() -> list[type[BaseException]]:
    """Every exception class defined in zentrale's modules."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(zentrale.__path__, "zentrale."):
        if info.name.startswith(SKIPPED):
            continue
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == info.name:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


EXCEPTIONS = zentrale_exceptions()


def test_the_package_defines_many_errors() -> None:
    assert len(EXCEPTIONS) > 60


@pytest.mark.parametrize("error", EXCEPTIONS, ids=lambda error: error.__qualname__)
def test_each_error_derives_from_the_root_and_has_its_own_code(error: type) -> None:
    assert issubclass(error, ZentraleError)
    assert error.__name__.endswith("Error")
    assert "code" in vars(error), f"{error.__qualname__} has no code of its own"


def test_no_two_errors_share_a_name_or_a_code() -> None:
    names = [error.__name__ for error in EXCEPTIONS]
    codes = [vars(error)["code"] for error in EXCEPTIONS]
    assert sorted({name for name in names if names.count(name) > 1}) == []
    assert sorted({code for code in codes if codes.count(code) > 1}) == []


def test_every_kind_has_a_status_and_a_capability_error_gets_its_kinds() -> None:
    kind_classes = [
        value
        for _, value in inspect.getmembers(kinds, inspect.isclass)
        if issubclass(value, ZentraleError) and value is not ZentraleError
    ]
    assert all(kind in STATUS for kind in kind_classes)
    assert status_of(CustomerNotFoundError("c-1")) == 404
    assert status_of(NumberTakenError("+90", None)) == 409
    assert status_of(RecordingNotFoundError("r-1")) == 404
    assert status_of(ZentraleError("a failure of no kind")) is None
