"""What the engine tells the call flow to do next: the `Step` variants and the call state.

Every step carries the `CallState` to hand back to the engine for the next decision, and
`reason`: the trail of human-readable decisions that led here (never a caller's number or a
sensitive entry). Sounds are strings the flow passes to Asterisk as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from zentrale.routing.facts import CallFacts
from zentrale.routing.rules import Rules
from zentrale.routing.schema import Action, Department
from zentrale.routing.survey import SurveyPlan


@dataclass(frozen=True, slots=True)
class CallState:
    """Where a call stands in the routing rules; the engine's only memory between steps."""

    rules: Rules
    """The rules this call started with; a reload never changes them for this call."""
    facts: CallFacts
    language: str
    trail: tuple[str, ...]
    menu: str | None = None
    department: str | None = None
    attempts: int = 0
    pending: Action | None = None
    """Where to go once the caller has chosen a language (while the selection is asked)."""
    entered: Mapping[str, str] = field(default_factory=dict)
    """Values collected by digit entries, by their `store_as` name."""
    hops: int = 0
    priority: int = 0
    """Queue priority from the matched entry rule: higher is served first (VIP callers)."""
    out_of_hours: bool = False
    """A schedule on the way here was closed (a closed menu or department, or an entry rule
    for closed hours): whatever the call ends in, it came out of hours."""
    gave_up: bool = False
    """The menu's retries were used up (wrong keys or silence): the action that follows is its
    `on_invalid`/`on_timeout`, and a call that ends there ended in the menu."""


@dataclass(frozen=True, slots=True)
class StepBase:
    """Fields and helpers shared by every step."""

    state: CallState

    @property
    def reason(self) -> tuple[str, ...]:
        """Return the decisions that led to this step, oldest first."""
        return self.state.trail

    @property
    def destination(self) -> tuple[str, str]:
        """Return (kind, target) as written in YAML actions, e.g. ('department', 'sales')."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class CollectDigits(StepBase):
    """Play `prompts` (interruptible) and collect keys; then call on_digits or on_timeout."""

    menu: str
    prompts: tuple[str, ...]
    max_digits: int
    min_digits: int
    terminator: str | None
    timeout: float
    sensitive: bool
    """True when the entry must not be recorded (pause recording while collecting)."""

    @property
    def destination(self) -> tuple[str, str]:
        """Return ('menu', name) of the menu waiting for input."""
        return "menu", self.menu


@dataclass(frozen=True, slots=True)
class ConsentPlay:
    """The consent notice a call hears: its sound, version label and language."""

    sound: str
    version: str
    language: str


@dataclass(frozen=True, slots=True)
class Queue(StepBase):
    """Queue the call for a department; call on_max_wait when `config.max_wait` runs out."""

    name: str
    config: Department
    consent: str | None
    """Recording-consent notice to play before recording starts (when recording)."""
    notice: ConsentPlay | None = None
    """That notice's version label and language, stored with the call once played."""

    @property
    def destination(self) -> tuple[str, str]:
        """Return ('department', name)."""
        return "department", self.name


@dataclass(frozen=True, slots=True)
class Voicemail(StepBase):
    """Send the caller to a voicemail box, greeted in the caller's language."""

    mailbox: str
    greeting: str = "sound:vm-intro"
    """The sound played before the beep: `announcements.voicemail` for the caller's language,
    else Asterisk's own `vm-intro`, which the flow plays in the caller's language."""

    @property
    def destination(self) -> tuple[str, str]:
        """Return ('voicemail', mailbox)."""
        return "voicemail", self.mailbox


@dataclass(frozen=True, slots=True)
class Dial(StepBase):
    """Connect the caller to an external number."""

    number: str

    @property
    def destination(self) -> tuple[str, str]:
        """Return ('dial', number)."""
        return "dial", self.number


@dataclass(frozen=True, slots=True)
class PlayAndHangup(StepBase):
    """Play one prompt, then hang up."""

    prompt: str
    sound: str
    closed: bool = False
    """The caller hears this because the centre (or the department) is closed: the call's
    outcome is `closed`."""

    @property
    def destination(self) -> tuple[str, str]:
        """Return ('play_and_hangup', prompt name)."""
        return "play_and_hangup", self.prompt


@dataclass(frozen=True, slots=True)
class Hangup(StepBase):
    """Hang up without a message; only when the rules leave nothing else to do."""

    @property
    def destination(self) -> tuple[str, str]:
        """Return ('hangup', '')."""
        return "hangup", ""


@dataclass(frozen=True, slots=True)
class Survey(StepBase):
    """Ask each question (answered by key on its scale), play `thanks`, hang up."""

    name: str
    questions: tuple[str, ...]
    max_digit: int
    thanks: str | None
    plan: SurveyPlan | None = None
    """Each question with its scale, timeout and retries (`questions` are their sounds)."""

    @property
    def destination(self) -> tuple[str, str]:
        """Return ('survey', name)."""
        return "survey", self.name


@dataclass(frozen=True, slots=True)
class OfferCallback(StepBase):
    """Offer the caller a callback from `department` instead of waiting."""

    department: str

    @property
    def destination(self) -> tuple[str, str]:
        """Return ('callback', department)."""
        return "callback", self.department


Step = CollectDigits | Queue | Voicemail | Dial | PlayAndHangup | Hangup | Survey | OfferCallback
