"""The keyring's part in rotation: a new primary, retiring a key, atomic rewrites."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from zentrale.cli.keys import KeyRow, Keys, status_lines
from zentrale.recording.envelope import generate_data_key
from zentrale.recording.keys.base import InvalidKeyMaterialError
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.rotation import KeyUse, Usage


def test_a_new_primary_keeps_the_old_keys_for_unwrapping() -> None:
    old = Keyring.generate("old")
    wrapped = LocalKeyProvider(old).wrap(data_key := generate_data_key(), "rec-1")
    ring = old.with_new_primary("new")
    assert ring.primary == "new"
    assert set(ring.created) == {"old", "new"}
    assert LocalKeyProvider(ring).unwrap(wrapped, "rec-1") == data_key
    assert LocalKeyProvider(ring).wrap(data_key, "rec-1").key_id == "new"
    with pytest.raises(InvalidKeyMaterialError, match="already holds"):
        ring.with_new_primary("old")


def test_retiring_drops_the_key_but_never_the_primary() -> None:
    ring = Keyring.generate("old").with_new_primary("new")
    assert set(ring.without("old").keys) == {"new"}
    assert "old" not in ring.without("old").to_json()
    with pytest.raises(InvalidKeyMaterialError, match="primary"):
        ring.without("new")


def test_replace_rewrites_owner_only_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "ring.json"
    Keyring.generate("old").save(path)
    Keyring.load(path).with_new_primary("new").replace(path)
    assert Keyring.load(path).primary == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["ring.json"]


def test_a_keyring_without_creation_times_still_loads() -> None:
    old = Keyring.generate("dev")
    data = json.loads(old.to_json())
    del data["created"]
    ring = Keyring.from_json(json.dumps(data))
    assert (ring.primary, dict(ring.created)) == ("dev", {})
    assert "created" not in ring.to_json()


def test_status_lists_configured_keys_first_and_keys_seen_only_in_recordings() -> None:
    found = Keys(rows={"new": KeyRow("local", True, "2026-11-29T10:00:00+00:00")})
    usage = Usage(
        keys={
            "new": KeyUse(provider="local", key_id="new", recordings=4, only=3),
            "gone": KeyUse(provider="local", key_id="gone", recordings=1, only=0),
        },
        with_keys=4,
        shredded=2,
    )
    lines = status_lines(found, usage)
    assert lines[1].split() == ["new", "local", "yes", "4", "3", "2026-11-29T10:00:00+00:00"]
    assert lines[2].split() == ["gone", "local", "no", "1", "0", "-"]
    assert lines[-1].startswith("recordings with keys: 4; shredded (no key opens them): 2")
