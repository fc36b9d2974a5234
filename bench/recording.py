"""Benchmark: recording encryption in our STREAM format beside raw AES-256-GCM, in one run.

Encrypts and decrypts 64 MiB of random data in 64 KiB segments with `envelope` and, as the
baseline, with the same library's AESGCM called once per chunk of the same size (what any
segmented AES-GCM must do), then measures random 4 KiB range reads (the player seeking).
Takes the best of several repeats. Prints its figures and ends with one JSON line; exits 0
even when a target is missed.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from zentrale.recording import envelope

TOTAL = 64 * 1024 * 1024
SEGMENT = envelope.DEFAULT_SEGMENT_SIZE
RANGE = 4096
RANGE_READS = 2000
REPEATS = 5
MIB = 1024 * 1024


def best_seconds(run: Callable[[], object]) -> float:
    """Return the fastest of REPEATS timed runs."""
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def raw_encrypt(aead: AESGCM, chunks: list[bytes], nonce: bytes) -> list[bytes]:
    """The baseline: one AESGCM call per chunk, nothing else."""
    return [aead.encrypt(nonce, chunk, None) for chunk in chunks]


def raw_decrypt(aead: AESGCM, sealed: list[bytes], nonce: bytes) -> list[bytes]:
    """The baseline for decryption."""
    return [aead.decrypt(nonce, chunk, None) for chunk in sealed]


def range_reads(obj: bytes, key: bytes, starts: list[int]) -> int:
    """Decrypt RANGE bytes at each start; return the object bytes read."""
    read_bytes = 0

    def reader(lo: int, hi: int) -> tuple[bytes]:
        nonlocal read_bytes
        read_bytes += hi - lo
        return (obj[lo:hi],)

    for start in starts:
        for _ in envelope.decrypt_range(
            read=reader,
            object_size=len(obj),
            key=key,
            recording_id="bench",
            start=start,
            end=start + RANGE,
        ):
            pass
    return read_bytes


def main() -> None:
    """Run the benchmark and print its figures and the JSON line."""
    data = os.urandom(TOTAL)
    chunks = [data[i : i + SEGMENT] for i in range(0, TOTAL, SEGMENT)]
    key, nonce = envelope.generate_data_key(), os.urandom(12)
    aead = AESGCM(key)
    raw_sealed = raw_encrypt(aead, chunks, nonce)
    obj = b"".join(envelope.encrypt(chunks, key, "bench"))

    raw_enc = best_seconds(lambda: raw_encrypt(aead, chunks, nonce))
    ours_enc = best_seconds(lambda: list(envelope.encrypt(chunks, key, "bench")))
    raw_dec = best_seconds(lambda: raw_decrypt(aead, raw_sealed, nonce))
    sealed_pieces = [obj[i : i + SEGMENT] for i in range(0, len(obj), SEGMENT)]
    ours_dec = best_seconds(lambda: list(envelope.decrypt(sealed_pieces, key, "bench")))

    rng = random.Random(7)
    starts = [rng.randrange(0, TOTAL - RANGE) for _ in range(RANGE_READS)]
    range_s = best_seconds(lambda: range_reads(obj, key, starts))
    read_per_range = range_reads(obj, key, starts) / RANGE_READS

    figures = {
        "encrypt_mib_s": round(TOTAL / MIB / ours_enc, 1),
        "decrypt_mib_s": round(TOTAL / MIB / ours_dec, 1),
        "encrypt_ratio": round(raw_enc / ours_enc, 3),
        "decrypt_ratio": round(raw_dec / ours_dec, 3),
        "range_read_us": round(range_s / RANGE_READS * 1e6, 1),
        "range_read_bytes": round(read_per_range),
        "overhead_pct": round((len(obj) - TOTAL) / TOTAL * 100, 3),
    }
    baseline = {
        "raw_encrypt_mib_s": round(TOTAL / MIB / raw_enc, 1),
        "raw_decrypt_mib_s": round(TOTAL / MIB / raw_dec, 1),
        "total_mib": TOTAL // MIB,
        "segment_bytes": SEGMENT,
    }
    print(f"data: {TOTAL // MIB} MiB in {SEGMENT // 1024} KiB segments, best of {REPEATS}")
    print(f"raw AES-256-GCM encrypt: {baseline['raw_encrypt_mib_s']:8.1f} MiB/s  (baseline)")
    print(
        f"envelope encrypt:        {figures['encrypt_mib_s']:8.1f} MiB/s  "
        f"({figures['encrypt_ratio']:.1%} of raw)"
    )
    print(f"raw AES-256-GCM decrypt: {baseline['raw_decrypt_mib_s']:8.1f} MiB/s  (baseline)")
    print(
        f"envelope decrypt:        {figures['decrypt_mib_s']:8.1f} MiB/s  "
        f"({figures['decrypt_ratio']:.1%} of raw)"
    )
    print(
        f"random {RANGE} B range read: {figures['range_read_us']:8.1f} us, "
        f"{figures['range_read_bytes']} object bytes read per range"
    )
    print(f"size overhead: {figures['overhead_pct']}% (16 B header + 16 B tag per segment)")
    targets = {
        "encrypt_ratio >= 0.8": figures["encrypt_ratio"] >= 0.8,
        "decrypt_ratio >= 0.8": figures["decrypt_ratio"] >= 0.8,
    }
    line = {
        "bench": "recording_crypto",
        "figures": figures,
        "baseline": baseline,
        "targets": targets,
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
