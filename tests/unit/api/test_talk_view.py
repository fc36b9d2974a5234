"""The recording page's lanes and figures, from the row the pipeline's talk step keeps."""

from __future__ import annotations

from zentrale.api.web.i18n import TEXTS
from zentrale.api.web.talk import talk_view
from zentrale.recording.models import Recording
from zentrale.recording.store import talk_columns
from zentrale.recording.talk import Segment, TalkFigures


def _row(figures: TalkFigures | None) -> Recording:
    return Recording(duration_s=10.0, **talk_columns(figures))


def _figures(parties: int) -> TalkFigures:
    two = parties == 2
    segments = (
        (Segment("customer", 0.0, 4.0), Segment("agent", 3.5, 8.0))
        if two
        else (Segment("mixed", 0.0, 4.0), Segment("mixed", 7.0, 9.0))
    )
    return TalkFigures(
        duration_s=10.0,
        parties=parties,
        customer_talk_s=4.0 if two else 6.0,
        agent_talk_s=4.5,
        silence_s=0.0 if two else 3.0,
        longest_silence_s=0.0 if two else 3.0,
        overtalk_s=0.5,
        overtalk_count=1,
        longest_monologue_s=4.0,
        longest_monologue_party="customer",
        agent_talk_ratio=0.53 if two else None,
        segments=segments,
        silences=() if two else ((4.0, 7.0),),
        overtalks=((3.5, 4.0),) if two else (),
    )


def test_two_channels_give_agent_customer_and_marks_lanes() -> None:
    view = talk_view(_row(_figures(2)), TEXTS["en"], "en")
    assert view is not None
    assert [lane.name for lane in view.lanes] == ["agent", "customer", "marks"]
    assert [(m.kind, m.start, m.end) for m in view.lanes[2].marks] == [("overtalk", 3.5, 4.0)]
    figures = dict(view.figures)
    assert figures["Agent share of talk"] == "53.0 %"
    assert figures["Overtalk, share of the call"] == "5.0 %"


def test_one_mixed_channel_gives_one_lane_and_no_overtalk_or_share() -> None:
    view = talk_view(_row(_figures(1)), TEXTS["de"], "de")
    assert view is not None
    assert view.mixed
    assert [lane.name for lane in view.lanes] == ["mixed", "marks"]
    assert [m.kind for m in view.lanes[1].marks] == ["dead_air"]
    assert view.lanes[1].marks[0].label == "Funkstille: 4,0 bis 7,0 s (3,0 s); ab hier abspielen"
    names = [name for name, _ in view.figures]
    assert "Redezeit (ein Kanal)" in names
    assert not [name for name in names if "Gleichzeitig" in name or "Redeanteil" in name]


def test_a_recording_never_analysed_has_no_view() -> None:
    assert talk_view(_row(None), TEXTS["en"], "en") is None


def test_marks_past_the_end_of_the_audio_are_clipped_to_it() -> None:
    row = _row(_figures(2))
    row.duration_s = 3.8
    view = talk_view(row, TEXTS["en"], "en")
    assert view is not None
    assert [(m.start, m.end) for m in view.lanes[0].marks] == [(3.5, 3.8)]  # agent 3.5-8.0
    assert [(m.start, m.end) for m in view.lanes[2].marks] == [(3.5, 3.8)]  # overtalk 3.5-4.0
