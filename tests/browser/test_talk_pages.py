"""What QA staff see of a conversation, in Chromium: the speech lanes under the waveform (to
scale, click to seek), the figures, the call story (never a sensitive digit), and the search
by overtalk."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from zentrale.calls.models import Direction, EventKind
from zentrale.calls.store import CallStore, CallUpdate, NewCall
from zentrale.db.session import Database
from zentrale.recording import vault
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.storage.memory import MemoryStore
from zentrale.recording.store import FinishedRecording, RecordingStore, StoredRecording, WrappedKey
from zentrale.recording.talk import Segment, TalkFigures
from zentrale.testing.clocks import START, FakeClock
from zentrale.testing.recordings import tone_wav

from .conftest import SCREENSHOTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]

CARD = "4111111111111111"
SECONDS = 12.0
SEGMENTS = (
    Segment("customer", 0.5, 3.0),
    Segment("agent", 3.2, 6.0),
    Segment("customer", 5.5, 8.0),
    Segment("agent", 10.5, 11.5),
)
SILENCES = ((8.0, 10.5),)
OVERTALKS = ((5.5, 6.0),)
# seconds after arrival, kind, detail (the story call: menu, queue, agent, a card entry)
TIMELINE: list[tuple[float, EventKind, dict[str, Any]]] = [
    (0, EventKind.ARRIVED, {"dialled": "+908501234567"}),
    (1, EventKind.ANSWERED, {}),
    (2, EventKind.MENU_ENTERED, {"menu": "main", "language": "tr"}),
    (5, EventKind.DIGIT, {"menu": "main", "digits": "3"}),
    (6, EventKind.CONSENT_PLAYED, {"notice": "2026-01", "language": "tr"}),
    (8, EventKind.QUEUED, {"department": "sales"}),
    (10, EventKind.AGENT_RUNG, {"agent": "PJSIP/1001"}),
    (20, EventKind.AGENT_ANSWERED, {"agent": "PJSIP/1001"}),
    (20, EventKind.RECORDING_STARTED, {"name": "rec-story"}),
    (22, EventKind.MENU_ENTERED, {"menu": "card", "language": "tr"}),
    (22, EventKind.RECORDING_PAUSED, {"at": 2.0}),
    (30, EventKind.DIGIT, {"menu": "card", "digits": CARD}),  # sensitive: see _seed
    (30, EventKind.RECORDING_RESUMED, {"at": 10.0}),
    (40, EventKind.CONVERSATION_ENDED, {"agent": "PJSIP/1001"}),
    (41, EventKind.HANGUP, {"state": "Queue"}),
]


def figures(duration: float, overtalk: float, dead_air: float, agent_share: float) -> TalkFigures:
    """Figures for a DURATION s recording (the shape of test_talk_search's builder); the
    segments and marks are the story call's, scaled to DURATION."""
    talk, k = duration - dead_air, duration / SECONDS
    return TalkFigures(
        duration_s=duration,
        parties=2,
        customer_talk_s=talk * (1 - agent_share),
        agent_talk_s=talk * agent_share,
        silence_s=dead_air,
        longest_silence_s=dead_air,
        overtalk_s=overtalk,
        overtalk_count=1 if overtalk else 0,
        longest_monologue_s=2.5,
        longest_monologue_party="customer",
        agent_talk_ratio=agent_share,
        segments=tuple(Segment(s.party, s.start * k, s.end * k) for s in SEGMENTS),
        silences=tuple((a * k, b * k) for a, b in SILENCES) if dead_air else (),
        overtalks=tuple((a * k, b * k) for a, b in OVERTALKS) if overtalk else (),
    )


async def _seed(service: dict[str, Any]) -> str:
    """A stored 12 s recording of the story call in sales, with its figures; return its id."""
    db: Database = service["db"]
    clock: FakeClock = service["clock"]
    arrived = START + dt.timedelta(minutes=30)
    calls = CallStore(db, clock)
    await calls.create(
        NewCall(id="story", direction=Direction.INBOUND, arrived_at=arrived, caller_number="+90555")
    )
    update = CallUpdate(department="sales", agent_endpoint="PJSIP/1001", agent_name="Elif Şahin")
    await calls.update("story", update)
    for seconds, kind, detail in TIMELINE:
        at = arrived + dt.timedelta(seconds=seconds)
        await calls.add_event("story", kind, detail, sensitive=detail.get("menu") == "card", at=at)
    clock.now = arrived + dt.timedelta(seconds=42)
    recordings = RecordingStore(db, clock)
    finished = FinishedRecording(
        call_id="story", asterisk_name="rec-story", format="wav", duration_s=SECONDS
    )
    queued = await recordings.recording_finished(finished)
    await _store(service, recordings, queued.recording_id, tone_wav(SECONDS))
    # 0.5 s of 12 s overtalk is 4.2 %, 2.5 s of dead air, the agent 40 % of the talk
    await recordings.set_talk(queued.recording_id, figures(SECONDS, 0.5, 2.5, 0.4))
    return queued.recording_id


async def _store(
    service: dict[str, Any], recordings: RecordingStore, recording_id: str, audio: bytes
) -> None:
    store: MemoryStore = service["store"]
    keyring: Keyring = service["keyring"]
    sealed = vault.seal(
        store,
        [LocalKeyProvider(keyring)],
        recording_id,
        [audio],
        object_key=f"2026/03/{recording_id}",
        segment_size=4096,
    )
    data = sealed.to_json()
    await recordings.mark_stored(
        recording_id,
        StoredRecording(
            plaintext_size=sealed.plaintext_size,
            object_size=sealed.object_size,
            sha256_plain=hashlib.sha256(audio).hexdigest(),
            sha256_cipher="0" * 64,
            storage_backend="memory",
            object_key=sealed.object_key,
            wrapped_keys=[
                WrappedKey(k["key_id"], k["provider"], k["wrapped"]) for k in data["wrapped_keys"]
            ],
            encryption_header={"format_version": 1, "segment_size": sealed.segment_size},
            stored_at=service["clock"].now,
            duration_s=SECONDS,
            waveform=bytes(i * 2 % 256 for i in range(int(SECONDS * 10))),
        ),
    )


async def _sign_in(browser: Browser, url: str, password: str, width: int = 1280) -> Page:
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = await context.new_page()
    await sign_in(page, url, "qa", password)
    return page


async def _seek_to(page: Page, mark: Any) -> float:
    """Click MARK and return the player's position once the seek is done."""
    audio = page.locator("#audio")
    await audio.evaluate(
        "a => { window.seekDone = new Promise(ok => a.addEventListener('seeked',"
        " () => { a.pause(); ok(a.currentTime); }, {once: true})); }"
    )
    await mark.click()
    return float(await page.evaluate("window.seekDone"))


async def test_lanes_are_drawn_to_the_waveform_scale_and_seek_the_player(
    service: dict[str, Any], browser: Browser, password: str
) -> None:
    rid = await _seed(service)
    page = await _sign_in(browser, service["url"], password)
    await page.goto(f"{service['url']}/recordings/{rid}?lang=en")
    await expect(page.locator("#waveform canvas").first).to_be_attached()
    await page.wait_for_function(
        "() => window.zentraleWave && window.zentraleWave.getDuration() > 0"
        " && document.getElementById('audio').readyState >= 1"
    )
    # the waveform's own scale: wavesurfer's wrapper spans 0..getDuration() seconds
    wave = await page.evaluate(
        "() => { const r = window.zentraleWave.getWrapper().getBoundingClientRect();"
        " return {x: r.x, width: r.width, duration: window.zentraleWave.getDuration()}; }"
    )
    assert abs(wave["duration"] - SECONDS) < 0.1
    expected = [(s.party, s.start, s.end) for s in SEGMENTS]
    expected += [("dead_air", a, b) for a, b in SILENCES]
    expected += [("overtalk", a, b) for a, b in OVERTALKS]
    for kind, start, end in expected:
        mark = page.locator(f'#lanes .mark.{kind}[data-at="{start}"]')
        await expect(mark).to_have_count(1)
        box = await mark.bounding_box()
        assert box is not None
        left = wave["x"] + start / wave["duration"] * wave["width"]
        right = wave["x"] + end / wave["duration"] * wave["width"]
        assert abs(box["x"] - left) <= 3, (kind, start, box, left)
        assert abs(box["x"] + box["width"] - right) <= 3, (kind, end, box, right)
    # agent above customer above the marks, each mark inside its lane
    lanes = [page.locator(f'.lane[data-lane="{n}"]') for n in ("agent", "customer", "marks")]
    tops = [(await lane.bounding_box() or {"y": -1})["y"] for lane in lanes]
    assert tops == sorted(tops)
    await expect(page.locator(".legend li")).to_have_count(4)
    await expect(page.locator(".mark.overtalk")).to_have_attribute(
        "aria-label", "Overtalk: 5.5 to 6.0 s (0.5 s); play from here"
    )

    agent = page.locator('.lane[data-lane="agent"] .mark[data-at="3.2"]')
    assert abs(await _seek_to(page, agent) - 3.2) < 0.15
    dead_air = page.locator(".mark.dead_air")
    assert abs(await _seek_to(page, dead_air) - 8.0) < 0.15
    customer = page.locator('.lane[data-lane="customer"] .mark[data-at="5.5"]')
    assert abs(await _seek_to(page, customer) - 5.5) < 0.15

    table = page.locator("#talk-figures")
    for name, value in (
        ("Customer talk", "5.7 s"),
        ("Agent talk", "3.8 s"),
        ("Agent share of talk", "40.0 %"),
        ("Dead air, longest", "2.5 s"),
        ("Overtalk, total", "0.5 s"),
        ("Overtalk, occurrences", "1"),
        ("Overtalk, share of the call", "4.2 %"),
        ("Longest monologue", "2.5 s"),
    ):
        row = table.locator("tr").filter(has=page.get_by_role("rowheader", name=name, exact=True))
        await expect(row.locator("td")).to_have_text(value)
    await page.screenshot(path=str(SCREENSHOTS / "recording-talk.png"), full_page=True)
    await page.context.close()


async def test_the_story_tells_the_call_and_never_a_sensitive_digit(
    service: dict[str, Any], browser: Browser, password: str
) -> None:
    rid = await _seed(service)
    page = await _sign_in(browser, service["url"], password)
    await page.goto(f"{service['url']}/recordings/{rid}?lang=en")
    story = page.locator("#story")
    for sentence in (
        "Call came in on +908501234567",
        "Caller chose 3 (sales) in the main menu",
        "Consent notice played (version 2026-01, Turkish)",
        "Waited 12 s in sales",
        "Rang Elif Şahin",
        "Elif Şahin answered",
        "Recording paused for the entry in the card menu",
        "Caller typed a confidential entry in the card menu (not shown)",
        "Conversation with Elif Şahin ended after 20 s",
    ):
        await expect(story).to_contain_text(sentence)
    await expect(story).not_to_contain_text("recording_started")
    html = await page.content()
    assert CARD not in html
    assert CARD[:6] not in html
    # the conversation ends 20 s after the recording started, 8 s of them paused (cut out)
    ended = story.locator("li", has_text="Conversation with")
    await expect(ended.locator("button.seek")).to_have_attribute("data-at", "12.0")
    before = story.locator("li", has_text="Call came in")
    await expect(before.locator("button")).to_have_count(0)  # before the audio: no seek

    await page.goto(f"{service['url']}/recordings/{rid}?lang=de")
    for sentence in (
        "Anrufer wählte 3 (sales) im Menü „main“",
        "Wartete 12 s in sales",
        "Elif Şahin nahm an",
        "Einwilligungshinweis abgespielt (Version 2026-01, Türkisch)",
        "vertrauliche Eingabe (nicht angezeigt)",
    ):
        await expect(story).to_contain_text(sentence)
    await expect(page.locator("#talk-figures")).to_contain_text("Redeanteil Agent")
    await expect(page.locator("#talk-figures")).to_contain_text("40,0 %")
    assert CARD not in await page.content()
    await page.context.close()


async def test_a_search_by_overtalk_finds_exactly_the_seeded_calls(
    service: dict[str, Any], browser: Browser, password: str
) -> None:
    story = await _seed(service)
    world = service["world"]
    store = RecordingStore(service["db"])
    await store.set_talk(world.recordings["sales1"], figures(6.0, 1.2, 0.0, 0.5))  # 20 %
    await store.set_talk(world.recordings["sales2"], figures(3.0, 0.0, 2.5, 0.9))  # none
    page = await _sign_in(browser, service["url"], password)
    rows = page.locator("table.results tbody tr")
    await expect(rows).to_have_count(3)  # sales1, sales2 and the story call

    async def found(**filters: str) -> set[str]:
        for name in (
            "min_overtalk_pct",
            "min_dead_air",
            "min_agent_talk_pct",
            "max_agent_talk_pct",
        ):
            await page.locator(f'input[name="{name}"]').fill(filters.get(name, ""))
        await page.get_by_role("button", name="Filter").click()
        await expect(page).to_have_url(
            f"{service['url']}/?" + "&".join(f"{k}={v}" for k, v in _params(filters).items())
        )
        links = await page.locator("table.results tbody tr a").all()
        return {str(await link.get_attribute("href")).rsplit("/", 1)[-1] for link in links}

    sales1, sales2 = world.recordings["sales1"], world.recordings["sales2"]
    assert await found(min_overtalk_pct="10") == {sales1}
    assert await found(min_overtalk_pct="4") == {sales1, story}
    assert await found(min_overtalk_pct="25") == set()
    await expect(page.locator("#results")).to_contain_text("No recordings match.")
    assert await found(min_dead_air="2") == {sales2, story}
    assert await found(min_agent_talk_pct="70") == {sales2}
    assert await found(max_agent_talk_pct="45") == {story}
    assert await found(min_agent_talk_pct="45", max_agent_talk_pct="60") == {sales1}
    await page.screenshot(path=str(SCREENSHOTS / "search-talk.png"))
    await page.context.close()


def _params(filters: dict[str, str]) -> dict[str, str]:
    names = [
        *("since", "until", "department", "agent", "direction", "caller", "min_duration"),
        *("max_duration", "tag", "min_score", "max_score", "survey_max", "min_overtalk_pct"),
        *("min_dead_air", "min_agent_talk_pct", "max_agent_talk_pct"),
    ]
    return {name: filters.get(name, "") for name in names}
