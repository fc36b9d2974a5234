"""Who spoke when, for the recording page: the lanes under the waveform and the figures table.

Built from the `recordings` row (`talk_segments` and the figure columns the pipeline's
`talk` step keeps). Times stay in seconds of the audio; `app.js` places each mark at
start/duration of the lane's width, the same scale as the waveform above it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zentrale.qa.story import duration as spoken_duration
from zentrale.recording.models import Recording
from zentrale.recording.store import agent_talk_pct, overtalk_pct


@dataclass(frozen=True, slots=True, kw_only=True)
class Mark:
    """One stretch on a lane: a party speaking, dead air or overtalk."""

    kind: str
    start: float
    end: float
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Lane:
    """One row under the waveform."""

    name: str
    title: str
    marks: tuple[Mark, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TalkView:
    """The lanes, the scale they are drawn to and the figures, ready for the template."""

    duration: float
    lanes: tuple[Lane, ...]
    figures: tuple[tuple[str, str], ...]
    mixed: bool


def number(value: float, lang: str, places: int = 1) -> str:
    """Return VALUE with PLACES decimals (German: decimal comma)."""
    text = f"{value:.{places}f}"
    return text.replace(".", ",") if lang == "de" else text


def seconds(value: float, lang: str) -> str:
    """Return a length: '12.3 s' under a minute, else '3 min 5 s'."""
    return f"{number(value, lang)} s" if value < 60 else spoken_duration(value, lang)


def talk_view(recording: Recording, texts: Mapping[str, str], lang: str) -> TalkView | None:
    """Return the page's view of RECORDING's conversation figures (None: not analysed)."""
    data = recording.talk_segments
    if not isinstance(data, dict):
        return None
    segments = [s for s in data.get("segments", []) if _is_segment(s)]
    mixed = recording.talk_agent_s is None or any(s[0] == "mixed" for s in segments)
    ends = [float(s[2]) for s in segments] + [float(s[1]) for s in _spans(data, "silences")]
    length = float(recording.duration_s or max(ends, default=0.0))
    if length <= 0:
        return None
    parties = ("mixed",) if mixed else ("agent", "customer")
    # a mark past the end of the audio (figures of an older cut) is clipped to the waveform
    inside = [(p, float(a), min(float(b), length)) for p, a, b in segments if float(a) < length]
    lanes = [_party_lane(party, inside, texts, lang) for party in parties]
    lanes.append(_marks_lane(data, length, texts, lang))
    return TalkView(
        duration=length,
        lanes=tuple(lanes),
        figures=_figures(recording, texts, lang, mixed),
        mixed=mixed,
    )


def _is_segment(item: Any) -> bool:
    return isinstance(item, list | tuple) and len(item) == 3 and item[0] in _PARTIES


_PARTIES = ("agent", "customer", "mixed")


def _spans(data: Mapping[str, Any], key: str) -> list[tuple[float, float]]:
    found = data.get(key) or []
    return [(float(a), float(b)) for a, b in found if b >= a]


def _label(texts: Mapping[str, str], lang: str, what: str, start: float, end: float) -> str:
    return texts["mark_label"].format(
        what=what,
        start=number(start, lang),
        end=number(end, lang),
        length=number(end - start, lang),
    )


def _party_lane(party: str, segments: list[Any], texts: Mapping[str, str], lang: str) -> Lane:
    title = texts[f"lane_{party}"]
    marks = tuple(
        Mark(kind=party, start=float(a), end=float(b), label=_label(texts, lang, title, a, b))
        for who, a, b in segments
        if who == party
    )
    return Lane(name=party, title=title, marks=marks)


def _marks_lane(
    data: Mapping[str, Any], length: float, texts: Mapping[str, str], lang: str
) -> Lane:
    marks = [
        Mark(kind=kind, start=a, end=min(b, length), label=_label(texts, lang, texts[kind], a, b))
        for kind, key in (("dead_air", "silences"), ("overtalk", "overtalks"))
        for a, b in _spans(data, key)
        if a < length
    ]
    marks.sort(key=lambda mark: mark.start)
    return Lane(name="marks", title=texts["lane_marks"], marks=tuple(marks))


def _figures(
    r: Recording, texts: Mapping[str, str], lang: str, mixed: bool
) -> tuple[tuple[str, str], ...]:
    rows: list[tuple[str, str | None]] = []
    if mixed:
        rows.append(("talk_mixed", _s(r.talk_customer_s, lang)))
    else:
        rows.append(("talk_customer", _s(r.talk_customer_s, lang)))
        rows.append(("talk_agent", _s(r.talk_agent_s, lang)))
        rows.append(("agent_share", _pct(agent_talk_pct(r), lang)))
    rows.append(("dead_air_total", _s(r.dead_air_s, lang)))
    rows.append(("dead_air_longest", _s(r.longest_dead_air_s, lang)))
    if not mixed:
        share = overtalk_pct(r)
        rows.append(("overtalk_time", _s(r.overtalk_s, lang)))
        rows.append(
            ("overtalk_count", str(r.overtalk_count) if r.overtalk_count is not None else None)
        )
        rows.append(("overtalk_share", _pct(share, lang)))
    rows.append(("longest_monologue", _s(r.longest_monologue_s, lang)))
    return tuple((texts[key], value if value is not None else "\u2013") for key, value in rows)


def _s(value: float | None, lang: str) -> str | None:
    return seconds(value, lang) if value is not None else None


def _pct(value: float | None, lang: str) -> str | None:
    return f"{number(value, lang)} %" if value is not None else None
