"""Benchmark: recording encryption beside raw AES-256-GCM, and the conversation analysis
beside transcoding, in one run.

1. Encrypts and decrypts 64 MiB of random data in 64 KiB segments with `envelope` and, as the
   baseline, with the same library's AESGCM called once per chunk of the same size (what any
   segmented AES-GCM must do), then measures random 4 KiB range reads (the player seeking).
   Takes the best of several repeats.
2. CPU milliseconds (this process and its ffmpeg children) per recorded minute of the `talk`
   step (`steps.talk.figures_of`: decode both party files, 8 kHz, `talk.conversation`) beside
   the `transcode` step's work on the same two files (decode, merge to stereo, waveform,
   Opus); target: the analysis under 10 % of the transcoding. Also reported: the detector
   alone (`talk.conversation` on decoded PCM) and the backfill's cost (`recordings analyse`:
   decode the stored stereo Opus from memory, then analyse). Median of several repeats.

Prints its figures and ends with one JSON line; exits 0 even when a target is missed.
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from zentrale.recording import audio, backfill, envelope, talk
from zentrale.recording.steps.talk import figures_of
from zentrale.testing.recordings import RATE, speech_like

TOTAL = 64 * 1024 * 1024
SEGMENT = envelope.DEFAULT_SEGMENT_SIZE
RANGE = 4096
RANGE_READS = 2000
REPEATS = 5
MIB = 1024 * 1024
TALK_SECONDS = 300.0  # one two-party recording of five minutes
TURN_S = 6.0  # the parties speak in turns of this length, with a 1 s pause between
TALK_REPEATS = 5
TALK_TARGET = 0.10


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


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (ffmpeg), user + system."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cpu_ms_per_minute(run: Callable[[], object]) -> float:
    """Return the median CPU milliseconds per recorded minute of TALK_REPEATS runs."""
    spent = []
    for _ in range(TALK_REPEATS):
        before = cpu_seconds()
        run()
        spent.append(cpu_seconds() - before)
    return round(1000 * statistics.median(spent) / (TALK_SECONDS / 60), 1)


def party_files(root: Path) -> list[Path]:
    """Write the customer's and the agent's files like Asterisk's: speaking in turns."""
    speech, quiet = speech_like(TURN_S), bytes(2 * int(RATE * TURN_S))
    gap = bytes(2 * RATE)
    size = 2 * int(RATE * TALK_SECONDS)
    turns = int(TALK_SECONDS // (2 * (TURN_S + 1.0))) + 1
    tracks = {
        "customer": (speech + gap + quiet + gap) * turns,
        "agent": (quiet + gap + speech + gap) * turns,
    }
    paths = []
    for name, data in tracks.items():
        path = root / f"{name}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(data[:size])
        paths.append(path)
    return paths


def transcode(paths: list[Path], target: Path) -> None:
    """What the pipeline's `transcode` step does with two party files."""
    segment = audio.load(paths)
    audio.analyse(segment)
    audio.encode(segment, audio.FORMATS["opus"], target)


def analysis_figures() -> tuple[dict[str, float], dict[str, float]]:
    """Return the analysis figures and the transcoding baseline, per recorded minute."""
    with tempfile.TemporaryDirectory(prefix="bench-talk-") as tmp:
        root = Path(tmp)
        paths = party_files(root)
        target = root / "audio.opus"
        transcode_ms = cpu_ms_per_minute(lambda: transcode(paths, target))
        analysis_ms = cpu_ms_per_minute(lambda: figures_of(paths))
        stored = target.read_bytes()
        pcm = [bytes(audio.decode(p).raw_data) for p in paths]
        detector_ms = cpu_ms_per_minute(lambda: talk.conversation(pcm[0], pcm[1], RATE))
        backfill_ms = cpu_ms_per_minute(lambda: backfill.figures_of_audio(stored, "opus"))
        found = talk.conversation(pcm[0], pcm[1], RATE)
    figures = {
        "analysis_ms_per_min": analysis_ms,
        "detector_ms_per_min": detector_ms,
        "backfill_ms_per_min": backfill_ms,
        "analysis_share": round(analysis_ms / transcode_ms, 4),
        "analysed_agent_talk_ratio": found.agent_talk_ratio or 0.0,
    }
    baseline = {"transcode_ms_per_min": transcode_ms, "recording_s": TALK_SECONDS}
    return figures, baseline


def print_analysis(figures: dict[str, float], baseline: dict[str, float]) -> None:
    """Print the analysis figures beside the transcoding."""
    print(f"two-party recording of {TALK_SECONDS:.0f} s, CPU ms per recorded minute:")
    rows = [
        ("transcode step (decode, stereo, waveform, Opus)", baseline["transcode_ms_per_min"]),
        ("talk step (decode both, 8 kHz, figures)", figures["analysis_ms_per_min"]),
        ("  of which the detector on decoded PCM", figures["detector_ms_per_min"]),
        ("backfill (stored Opus from memory, figures)", figures["backfill_ms_per_min"]),
    ]
    for label, value in rows:
        print(f"{label:<48} {value:8.1f}")
    print(f"talk step / transcode step: {figures['analysis_share']:.1%} (target under 10%)")


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
    talk_figures, talk_baseline = analysis_figures()
    print_analysis(talk_figures, talk_baseline)
    figures.update(talk_figures)
    baseline.update(talk_baseline)
    share = talk_figures["analysis_ms_per_min"] / talk_baseline["transcode_ms_per_min"]
    targets = {
        "encrypt_ratio >= 0.8": figures["encrypt_ratio"] >= 0.8,
        "decrypt_ratio >= 0.8": figures["decrypt_ratio"] >= 0.8,
        "analysis_ms_per_min / transcode_ms_per_min < 0.10": share < TALK_TARGET,
    }
    line = {
        "bench": "recording",
        "figures": figures,
        "baseline": baseline,
        "targets": targets,
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
