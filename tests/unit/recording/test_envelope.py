"""The STREAM envelope: round trips, range decryption, every tampering rejected, test vectors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from zentrale.recording import envelope
from zentrale.recording.envelope import (
    HEADER_SIZE,
    TAG_SIZE,
    Header,
    MalformedObjectError,
    TamperedObjectError,
    bytes_reader,
    decrypt,
    decrypt_range,
    encrypt,
)

SEGMENT = 1024
KEY = bytes(range(32))
RID = "rec-0001"
DOC = Path(__file__).parents[3] / "docs" / "encryption.md"


def seal(plaintext: bytes, segment: int = SEGMENT, rid: str = RID, key: bytes = KEY) -> bytes:
    return b"".join(encrypt([plaintext], key, rid, Header.new(segment)))


def open_all(obj: bytes, rid: str = RID, key: bytes = KEY) -> bytes:
    return b"".join(decrypt([obj], key, rid))


def sealed_segments(obj: bytes, segment: int = SEGMENT) -> list[bytes]:
    body, step = obj[HEADER_SIZE:], segment + TAG_SIZE
    return [body[i : i + step] for i in range(0, len(body), step)]


@pytest.mark.parametrize(
    "size",
    [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT, 3 * SEGMENT + 7, 3 * 1024 * 1024 + 5],
)
def test_round_trip_for_every_boundary_size(size: int) -> None:
    plaintext = os.urandom(size)
    obj = seal(plaintext)
    segments = max(1, -(-size // SEGMENT))
    assert len(obj) == HEADER_SIZE + size + segments * TAG_SIZE
    assert open_all(obj) == plaintext


def test_round_trip_with_the_default_segment_size_and_ragged_input_chunks() -> None:
    plaintext = os.urandom(5 * envelope.DEFAULT_SEGMENT_SIZE + 123)
    chunks = [plaintext[i : i + 7001] for i in range(0, len(plaintext), 7001)]
    obj = list(encrypt(chunks, KEY, RID))
    ragged = b"".join(obj)
    pieces = [ragged[i : i + 333] for i in range(0, len(ragged), 333)]
    assert b"".join(decrypt(pieces, KEY, RID)) == plaintext


def test_decryption_streams_one_segment_at_a_time() -> None:
    plaintext = os.urandom(4 * SEGMENT)
    outputs = list(decrypt([seal(plaintext)], KEY, RID))
    assert [len(piece) for piece in outputs] == [SEGMENT] * 4


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=6 * 64 + 5),
    segment=st.sampled_from([16, 17, 64]),
    start=st.integers(min_value=0, max_value=420),
    length=st.one_of(st.none(), st.integers(min_value=0, max_value=420)),
)
def test_any_range_decrypts_to_the_slice_of_the_plaintext(
    size: int, segment: int, start: int, length: int | None
) -> None:
    plaintext = bytes(i % 251 for i in range(size))
    obj = seal(plaintext, segment)
    end = None if length is None else start + length
    got = b"".join(
        decrypt_range(
            read=bytes_reader(obj),
            object_size=len(obj),
            key=KEY,
            recording_id=RID,
            start=start,
            end=end,
        )
    )
    assert got == plaintext[start:end]


def test_a_range_reads_only_the_header_and_the_segments_it_needs() -> None:
    plaintext = os.urandom(100 * SEGMENT)
    obj = seal(plaintext)
    reads: list[tuple[int, int]] = []

    def reader(lo: int, hi: int) -> list[bytes]:
        reads.append((lo, hi))
        return [obj[lo:hi]]

    got = b"".join(
        decrypt_range(
            read=reader,
            object_size=len(obj),
            key=KEY,
            recording_id=RID,
            start=50 * SEGMENT + 10,
            end=51 * SEGMENT + 5,
        )
    )
    assert got == plaintext[50 * SEGMENT + 10 : 51 * SEGMENT + 5]
    step = SEGMENT + TAG_SIZE
    assert reads == [(0, HEADER_SIZE), (HEADER_SIZE + 50 * step, HEADER_SIZE + 52 * step)]


def test_an_empty_or_out_of_bounds_range_yields_nothing() -> None:
    obj = seal(b"abc")
    assert (
        list(
            decrypt_range(
                read=bytes_reader(obj),
                object_size=len(obj),
                key=KEY,
                recording_id=RID,
                start=2,
                end=2,
            )
        )
        == []
    )
    assert (
        list(
            decrypt_range(
                read=bytes_reader(obj),
                object_size=len(obj),
                key=KEY,
                recording_id=RID,
                start=10,
                end=None,
            )
        )
        == []
    )
    with pytest.raises(ValueError, match="invalid byte range"):
        list(
            decrypt_range(
                read=bytes_reader(obj),
                object_size=len(obj),
                key=KEY,
                recording_id=RID,
                start=3,
                end=1,
            )
        )


PLAINTEXT = os.urandom(3 * SEGMENT + 100)


def flip(obj: bytes, at: int) -> bytes:
    return obj[:at] + bytes([obj[at] ^ 1]) + obj[at + 1 :]


def tampered_objects() -> dict[str, bytes]:
    obj = seal(PLAINTEXT)
    segs = sealed_segments(obj)
    head = obj[:HEADER_SIZE]
    return {
        "bit flipped in a segment": flip(obj, HEADER_SIZE + 5),
        "bit flipped in a tag": flip(obj, len(obj) - 1),
        "last segment dropped": head + b"".join(segs[:-1]),
        "cut mid-segment": obj[: HEADER_SIZE + SEGMENT + TAG_SIZE + 40],
        "segments reordered": head + segs[1] + segs[0] + b"".join(segs[2:]),
        "segment duplicated": head + segs[0] + b"".join(segs),
        "extended by a segment": obj + segs[1],
        "extended by one byte": obj + b"\x00",
        "nonce prefix changed": flip(obj, 10),
        "segment size changed": obj[:5] + (SEGMENT + 1).to_bytes(4, "big") + obj[9:],
    }


@pytest.mark.parametrize("case", sorted(tampered_objects()))
def test_tampered_objects_are_rejected(case: str) -> None:
    obj = tampered_objects()[case]
    with pytest.raises(TamperedObjectError):
        open_all(obj)


def test_the_wrong_recording_id_or_key_is_rejected() -> None:
    obj = seal(b"hello")
    with pytest.raises(TamperedObjectError, match="final segment 0"):
        open_all(obj, rid="rec-0002")
    with pytest.raises(TamperedObjectError):
        open_all(obj, key=bytes(32))


def test_splicing_segments_from_another_recording_under_the_same_key_is_rejected() -> None:
    one, two = seal(PLAINTEXT, rid="a"), seal(PLAINTEXT, rid="b")
    spliced = one[:HEADER_SIZE] + sealed_segments(one)[0] + b"".join(sealed_segments(two)[1:])
    with pytest.raises(TamperedObjectError, match="segment 1 "):
        open_all(spliced, rid="a")


def test_range_reads_detect_a_truncated_object_when_reaching_the_lost_tail() -> None:
    obj = seal(PLAINTEXT)
    truncated = obj[: -(100 + TAG_SIZE)]  # the whole short last segment is gone
    reader = bytes_reader(truncated)
    head = b"".join(
        decrypt_range(
            read=reader, object_size=len(obj), key=KEY, recording_id=RID, start=0, end=SEGMENT
        )
    )
    assert head == PLAINTEXT[:SEGMENT]  # untouched segments stay readable
    with pytest.raises(TamperedObjectError):
        list(
            decrypt_range(
                read=reader, object_size=len(obj), key=KEY, recording_id=RID, start=0, end=None
            )
        )
    with pytest.raises(TamperedObjectError, match="final segment 2"):
        list(
            decrypt_range(
                read=reader,
                object_size=len(truncated),
                key=KEY,
                recording_id=RID,
                start=3 * SEGMENT - 1,
                end=None,
            )
        )


def test_range_reads_reject_a_tampered_segment_in_the_range() -> None:
    obj = flip(seal(PLAINTEXT), HEADER_SIZE + SEGMENT + TAG_SIZE + 3)
    with pytest.raises(TamperedObjectError, match="segment 1 "):
        list(
            decrypt_range(
                read=bytes_reader(obj),
                object_size=len(obj),
                key=KEY,
                recording_id=RID,
                start=SEGMENT,
                end=SEGMENT + 1,
            )
        )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"ZREC", "shorter than its 16-byte header"),
        (b"RIFF" + bytes(60), "bad magic"),
        (b"ZREC\x02" + bytes(30), "unsupported recording format version 2"),
        (b"ZREC\x01\x00\x00\x00\x01" + bytes(30), "invalid segment size 1"),
    ],
)
def test_malformed_headers_are_named(data: bytes, message: str) -> None:
    with pytest.raises(MalformedObjectError, match=message):
        open_all(data)


def test_an_object_whose_size_cannot_hold_a_tag_is_malformed() -> None:
    obj = seal(b"")[:-1]
    with pytest.raises(MalformedObjectError, match="impossible object size"):
        list(
            decrypt_range(
                read=bytes_reader(obj),
                object_size=len(obj),
                key=KEY,
                recording_id=RID,
                start=0,
                end=None,
            )
        )


def test_an_empty_plaintext_still_has_one_authenticated_segment() -> None:
    obj = seal(b"")
    assert len(obj) == HEADER_SIZE + TAG_SIZE
    with pytest.raises(TamperedObjectError):
        open_all(obj[:HEADER_SIZE])


def test_headers_reject_bad_segment_sizes_and_keys_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="segment size"):
        Header.new(8)
    with pytest.raises(ValueError, match="32 bytes"):
        list(encrypt([b"x"], bytes(16), RID))


# Test vectors, also printed in docs/encryption.md: key 00..1f, nonce prefix a0..a6,
# segment size 16, recording id "rec-0001".
VECTOR_HEADER = Header(segment_size=16, nonce_prefix=bytes(range(0xA0, 0xA7)))
VECTORS = [
    (b"", "5a5245430100000010a0a1a2a3a4a5a6e12c614dace7feda2dc735189cfa8110"),
    (
        b"zentrale",
        "5a5245430100000010a0a1a2a3a4a5a60d04276aca678ca5fdac6e88f8539a186cc00ade65108918",
    ),
    (
        b"The quick brown fox jumps over the lazy",
        "5a5245430100000010a0a1a2a3a4a5a65eb97989e7212c5e0703a6f2f677384bd599ab6f4b75d4cab9e389"
        "dae2a9bc1e378d6fe7e7499bff93add102a8508e44589d52b5c696aec1c395306d3d5a19bf89c8a18297"
        "9466b151ae86e75c166922fcb006ec25365d",
    ),
]


@pytest.mark.parametrize(("plaintext", "expected"), VECTORS)
def test_vectors(plaintext: bytes, expected: str) -> None:
    obj = b"".join(encrypt([plaintext], KEY, RID, VECTOR_HEADER))
    assert obj.hex() == expected
    assert open_all(obj) == plaintext


@pytest.mark.parametrize(("plaintext", "expected"), VECTORS)
def test_vectors_follow_from_the_documented_construction(plaintext: bytes, expected: str) -> None:
    header = b"ZREC\x01" + (16).to_bytes(4, "big") + bytes(range(0xA0, 0xA7))
    pieces = [plaintext[i : i + 16] for i in range(0, len(plaintext), 16)] or [b""]
    aead = AESGCM(KEY)
    body = b"".join(
        aead.encrypt(
            header[9:] + i.to_bytes(4, "big") + bytes([i == len(pieces) - 1]),
            piece,
            header + RID.encode(),
        )
        for i, piece in enumerate(pieces)
    )
    assert (header + body).hex() == expected


def test_the_documentation_prints_the_same_vectors() -> None:
    documented = "".join(re.findall(r"[0-9a-f]{16,}", DOC.read_text()))
    for _, expected in VECTORS:
        assert expected in documented
