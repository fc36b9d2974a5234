"""`SpoolSource`: recordings read and deleted in Asterisk's spool where this host sees it,
with ARI (the fake server here) behind it for what is not there or not readable."""

from __future__ import annotations

from pathlib import Path

import pytest

from zentrale.recording.sources import SourceMissingError
from zentrale.telephony.ari import AriClient
from zentrale.telephony.spool import AriSource, SpoolSource, asterisk_source
from zentrale.testing.fake_ari import FakeAri

pytestmark = pytest.mark.asyncio

AUDIO = b"RIFF" + bytes(range(256)) * 64


def _recording_requests(fake: FakeAri) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests if "/recordings/" in r.path]


async def test_a_recording_in_the_spool_is_read_and_deleted_there_without_a_request(
    fake: FakeAri, rest_only: AriClient, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "call-1-1.wav").write_bytes(AUDIO)
    source = SpoolSource(spool, AriSource(rest_only), "wav")
    target = tmp_path / "work" / "source-0.wav"
    target.parent.mkdir()
    assert await source.fetch("call-1-1", target) == len(AUDIO)
    assert target.read_bytes() == AUDIO
    assert target.stat().st_mode & 0o777 == 0o600  # plaintext audio: ours alone
    await source.delete("call-1-1")
    assert list(spool.iterdir()) == []
    assert source.read_here == 1
    assert _recording_requests(fake) == []


async def test_a_recording_not_in_the_spool_is_fetched_and_deleted_over_ari(
    fake: FakeAri, rest_only: AriClient, tmp_path: Path
) -> None:
    fake.stored_files["call-2-1"] = AUDIO  # another node's, or a spool that is not shared
    source = SpoolSource(tmp_path, AriSource(rest_only), "wav")
    target = tmp_path / "source-0.wav"
    assert await source.fetch("call-2-1", target) == len(AUDIO)
    assert target.read_bytes() == AUDIO
    await source.delete("call-2-1")
    assert fake.stored_files == {}
    assert source.read_here == 0
    assert _recording_requests(fake) == [
        ("GET", "/recordings/stored/call-2-1/file"),
        ("DELETE", "/recordings/stored/call-2-1"),
    ]
    with pytest.raises(SourceMissingError):  # in neither place: the job retries
        await source.fetch("call-3-1", tmp_path / "source-1.wav")
    assert not (tmp_path / "source-1.wav.part").exists()


async def test_a_spool_entry_that_cannot_be_read_or_deleted_falls_back_to_ari(
    fake: FakeAri, rest_only: AriClient, tmp_path: Path
) -> None:
    # A directory where the file should be: reading and unlinking it fail as an unreadable
    # file would (permissions cannot be shown here: CI runs as root, which reads anything).
    (tmp_path / "call-4-1.wav").mkdir()
    fake.stored_files["call-4-1"] = AUDIO
    source = SpoolSource(tmp_path, AriSource(rest_only), "wav")
    target = tmp_path / "source-0.wav"
    assert await source.fetch("call-4-1", target) == len(AUDIO)
    await source.delete("call-4-1")
    assert fake.stored_files == {}
    assert [method for method, _ in _recording_requests(fake)] == ["GET", "DELETE"]


async def test_without_a_spool_setting_the_node_reads_over_ari(
    rest_only: AriClient, tmp_path: Path
) -> None:
    assert isinstance(asterisk_source(rest_only, None), AriSource)
    assert isinstance(asterisk_source(rest_only, tmp_path), SpoolSource)
