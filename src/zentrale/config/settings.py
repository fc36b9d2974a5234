"""The one typed settings model of zentrale, loaded from YAML and ZENTRALE_* variables.

Values come from the defaults here, then the YAML file (`config/zentrale.yaml` is the example),
then the environment (`ZENTRALE_ARI__PASSWORD` sets `ari.password`; `__` separates levels).
A bad value stops start-up with the key, the file and the line (or the variable) it came from.
Secrets are `SecretStr`: their `repr` and `str` print stars.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from zentrale.base.errors import ZentraleError
from zentrale.base.yamlmarks import YamlSyntaxError, locate, parse_yaml
from zentrale.config import phones

ENV_PREFIX = "ZENTRALE_"
_PROXY = r"^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$"
DEFAULT_FILE = Path("config/zentrale.yaml")

Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(gt=0, le=3600)]


class Section(BaseModel):
    """A settings section: unknown keys are errors, values are frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AriSettings(Section):
    """How to reach Asterisk's REST Interface."""

    url: str = "http://127.0.0.1:8088/ari"
    username: str = "zentrale"
    password: SecretStr | None = None
    password_file: Path | None = None
    app: str = Field(default="zentrale", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    request_timeout: Seconds = 10.0
    ping_interval: Seconds = 5.0
    rest_transport: Literal["auto", "websocket", "http"] = "auto"
    """How REST requests reach Asterisk: over the event WebSocket (Asterisk 22), over HTTP, or
    `auto`: probe at every connect and use the WebSocket when Asterisk answers it."""

    @field_validator("password_file")
    @classmethod
    def _home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// (e.g. http://127.0.0.1:8088/ari)")
        return value.rstrip("/")

    def secret(self) -> SecretStr:
        """Return the ARI password from `password` or `password_file`, or raise SettingsError."""
        if self.password is not None:
            return self.password
        if self.password_file is not None:
            try:
                return SecretStr(self.password_file.read_text().strip())
            except OSError as exc:
                raise SettingsError(
                    [f"ari.password_file: cannot read {self.password_file}: {exc.strerror}"]
                ) from None
        raise SettingsError(
            [
                "ari.password is not set: set ZENTRALE_ARI__PASSWORD, or ari.password"
                " or ari.password_file in the settings file"
            ]
        )


class TelephonySettings(Section):
    """How zentrale reaches parties outside Asterisk's own endpoints."""

    outbound_endpoint: str = Field(
        default="Local/{number}@sim-number/n",
        description="Asterisk endpoint for an outside number; {number} is replaced.",
    )
    outbound_caller_id: str = ""
    region: str = phones.DEFAULT_REGION
    """The call centre's country (ISO 3166, e.g. TR): numbers written without a country code
    (`0555 111 22 33`) are read as numbers of it, when masking them in logs and the audit log."""
    campaign_idle_poll: float = Field(default=5.0, gt=0, le=600)
    """Seconds between the campaign runner's looks at the database while no campaign is active
    (1 s while one is). A campaign started through this daemon's API is looked at at once; one
    started on another node or by `zentrale campaigns` waits at most this long."""

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if not phones.is_region(value):
            raise ValueError(f"'{value}' is not a country code phone numbers are known for")
        return value.upper()

    @field_validator("outbound_endpoint")
    @classmethod
    def _has_number(cls, value: str) -> str:
        if "{number}" not in value:
            raise ValueError("must contain {number}, e.g. PJSIP/{number}@trunk")
        return value


_REASON = r"^[a-z][a-z0-9_]{0,31}$"


class CallbackSettings(Section):
    """Callbacks agents promise at wrap-up: when they may be placed, and who places them."""

    hours: str = Field(default="09:00-20:00", pattern=r"^\d{1,2}:\d{2}-\d{1,2}:\d{2}$")
    """Calling hours in the routing rules' time zone (like a campaign's)."""
    days: str = Field(default="mon-sat", pattern=r"^[a-z,-]{3,40}$")
    """Days with calling hours: `mon-fri`, `mon,wed,fri` ..."""
    agent_wait: float = Field(default=600.0, ge=0, le=86400)
    """Seconds a due callback waits for its own agent before any free agent of the department
    takes it."""
    retries: int = Field(default=2, ge=0, le=10)
    """Attempts after the first when the customer or the agent does not answer."""
    retry_after: float = Field(default=900.0, ge=1, le=86400)
    check_every: float = Field(default=10.0, gt=0, le=600)
    """Seconds between the scheduler's looks at due callbacks."""
    lease: float = Field(default=60.0, ge=1, le=3600)
    """Seconds a daemon's claim on a callback it is placing holds; renewed at each look, so a
    callback left `calling` by a daemon that stopped is placed again once it runs out. More
    than twice `check_every`."""

    @field_validator("lease")
    @classmethod
    def _lease_outlasts_looks(cls, value: float, info: ValidationInfo) -> float:
        every = info.data.get("check_every")
        if every is not None and value <= 2 * every:
            raise ValueError(f"must be more than twice check_every ({every} s), not {value}")
        return value


class AgentSettings(Section):
    """The agents' workspace (`/agent`): the browser softphone and the reasons for a pause."""

    websocket_url: str = Field(
        default="ws://127.0.0.1:8088/ws",
        pattern=r"^wss?://[^\s]{1,200}$",
        description="Where browsers reach Asterisk's SIP over WebSocket (wss:// off loopback).",
    )
    sip_domain: str = Field(default="127.0.0.1", pattern=r"^[A-Za-z0-9.:-]{1,200}$")
    """The domain of the softphones' SIP address (sip:<endpoint>@<domain>)."""
    sip_password: SecretStr | None = None
    """The WebRTC endpoints' SIP password, handed to the signed-in agent's page only."""
    pause_reasons: tuple[Annotated[str, Field(pattern=_REASON)], ...] = Field(
        default=("break", "training", "back_office"), min_length=1
    )
    """Why an agent may pause; the page offers these, the API refuses others."""
    callbacks: CallbackSettings = CallbackSettings()


NumberFormat = Literal["e164", "national", "international", "digits"]
_DID_TEXT = r"^\+?[0-9() ./-]{1,32}$"
_CALLER_ID = r"^\+?[0-9]{1,20}$"
CallerId = Annotated[str, Field(pattern=_CALLER_ID)]


class TrunkInboundSettings(Section):
    """Calls from a trunk: the DIDs it carries and which entry rules each one goes to."""

    dids: dict[Annotated[str, Field(pattern=_DID_TEXT)], tuple[str, ...] | str | None] = Field(
        default_factory=dict
    )
    """DID (any written form; national ones in the trunk's country) -> the names of the entry
    rules its calls try (one name, a list, or nothing: every rule, as for any call)."""
    unknown_dids: Literal["route", "refuse"] = "route"
    """A call to a DID not listed: routed by the rules like any call, or refused."""


class TrunkOutboundSettings(Section):
    """Calls out through a trunk: how numbers are dialled, the caller ID, the channel limit."""

    dial: str | None = Field(default=None, description="default: PJSIP/{number}@<endpoint>")
    format: NumberFormat = "e164"
    """How the carrier wants the number: e164 (+4930123456), national (030123456),
    international (004930123456, the country's international prefix) or digits (4930123456)."""
    prefix: Annotated[str, Field(pattern=r"^[0-9*#+]{0,10}$")] = ""
    """Dialled before the formatted number (an outside-line or carrier-select prefix)."""
    caller_id: CallerId | None = None
    """The caller ID of calls through this trunk unless a department or campaign has its own."""
    department_caller_id: dict[str, CallerId] = Field(default_factory=dict)
    campaign_caller_id: dict[str, CallerId] = Field(default_factory=dict)
    max_channels: Annotated[int, Field(ge=1, le=10000)] | None = None
    """Most outbound channels at once on this node; more are refused (`trunk-full`)."""

    @field_validator("dial")
    @classmethod
    def _has_number(cls, value: str | None) -> str | None:
        if value is not None and "{number}" not in value:
            raise ValueError("must contain {number}, e.g. PJSIP/{number}@trunk")
        return value


SIP_CODECS = ("alaw", "ulaw", "g722", "opus", "gsm", "g729", "ilbc", "speex")
"""Codecs a PJSIP endpoint made by zentrale may allow (agents' phones and trunks)."""
DtmfMode = Literal["rfc4733", "info", "auto_info", "inband"]
_HOST = r"^(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,253})(:[0-9]{1,5})?$"
_PJSIP_NAME = r"^[A-Za-z0-9_-]{1,40}$"
_MATCH_PORT = re.compile(
    r"^(?P<address>[0-9.]+|\[[0-9A-Fa-f:]+\])(?P<port>:[0-9]{1,5})?(?P<mask>/[0-9]{1,3})?$"
)


def _sip_match(value: str) -> str:
    """Check one `match:` entry: an address or network, IPv4 optionally with a port
    (`217.0.0.0/13`, `192.0.2.10:5060`, `[2001:db8::1]:5060`, `2001:db8::/32`)."""
    text = value.strip()
    found = _MATCH_PORT.match(text)
    if found is not None:
        address = found["address"].strip("[]")
        port = found["port"]
        mask = found["mask"] or ""
    else:
        address, port, mask = text, None, ""
        if "/" in text:
            address, mask = text.split("/", 1)
            mask = "/" + mask
    try:
        ipaddress.ip_network(address + mask, strict=False)
    except ValueError:
        raise ValueError(
            f"'{value}' is not an address or network (e.g. 217.0.0.0/13, 192.0.2.10:5060)"
        ) from None
    if port is not None and not 1 <= int(port[1:]) <= 65535:
        raise ValueError(f"'{value}': the port must be 1-65535")
    return text


class TrunkRegistrationSettings(Section):
    """Registering with the carrier (trunks whose calls come to a registered account).

    The password is never written here: it is read from the environment variable named by
    `password_env` or from the file named by `password_file` (mode 0600, one line).
    """

    server: str | None = Field(default=None, pattern=r"^(sips?:)?[^\s@;<>]{1,200}$")
    """The registrar: `sip:reg.example.net` or `reg.example.net:5060` (default: the trunk's
    `host`)."""
    username: str = Field(pattern=r"^[A-Za-z0-9+._~-]{1,64}$")
    """The account (often the main number, +4930123456); also the contact's user."""
    auth_username: str | None = Field(default=None, pattern=r"^[A-Za-z0-9+._~@-]{1,128}$")
    """The digest user when it differs from `username`."""
    password_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
    password_file: Path | None = None
    expiration: Annotated[int, Field(ge=60, le=86400)] = 3600
    """Seconds a registration asks to last; Asterisk renews it before."""

    @field_validator("password_file")
    @classmethod
    def _home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @model_validator(mode="after")
    def _one_password(self) -> TrunkRegistrationSettings:
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError(
                "set one of password_env (an environment variable's name) or password_file"
                " (a file holding it); never the password itself"
            )
        return self

    def secret(self, environ: Mapping[str, str] | None = None) -> SecretStr:
        """Return the password from its variable or file; SettingsError names which failed."""
        env = os.environ if environ is None else environ
        if self.password_env is not None:
            value = env.get(self.password_env, "")
            if not value:
                raise SettingsError([f"environment variable {self.password_env} is not set"])
            return SecretStr(value)
        assert self.password_file is not None  # checked by _one_password
        try:
            value = self.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError([f"cannot read {self.password_file}: {exc.strerror}"]) from None
        if not value:
            raise SettingsError([f"{self.password_file} is empty"])
        return SecretStr(value)


class TrunkSipSettings(Section):
    """The trunk's SIP side, created in Asterisk by zentrale (no pjsip.conf section needed):
    an endpoint, an aor with the carrier's contact, an identify by source address, and an
    outbound registration with its auth when the carrier wants one."""

    host: str = Field(pattern=_HOST)
    """The carrier's address, host[:port] (sip.example.net, 192.0.2.10:5060): where calls go."""
    match: tuple[str, ...] = ()
    """Source addresses or networks whose calls are this trunk's (identify by address)."""
    transport: str = Field(default="transport-udp", pattern=_PJSIP_NAME)
    codecs: tuple[str, ...] = Field(default=("alaw", "ulaw"), min_length=1)
    dtmf_mode: DtmfMode = "rfc4733"
    context: str = Field(default="zentrale-inbound", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    """The dialplan context its calls enter (the one that hands calls to zentrale)."""
    registration: TrunkRegistrationSettings | None = None

    @field_validator("match")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_sip_match(entry) for entry in value)

    @field_validator("codecs")
    @classmethod
    def _known_codecs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [codec for codec in value if codec not in SIP_CODECS]
        if unknown:
            known = ", ".join(SIP_CODECS)
            raise ValueError(f"unknown codec {', '.join(unknown)}: choose from {known}")
        return value

    @model_validator(mode="after")
    def _identified(self) -> TrunkSipSettings:
        if not self.match and self.registration is None:
            raise ValueError(
                "say how its calls are known: match (the carrier's source addresses) or"
                " registration (calls to the registered account)"
            )
        return self


class TrunkSettings(Section):
    """A SIP trunk to a carrier: its PJSIP endpoint, its inbound DIDs, its outbound dialling."""

    endpoint: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    """The PJSIP endpoint of the trunk (default: the trunk's name); Asterisk's identify
    section (source address) or registration decides which calls are its calls."""
    country: str | None = None
    """The trunk's country for national numbers (default: telephony.region)."""
    inbound: TrunkInboundSettings = TrunkInboundSettings()
    outbound: TrunkOutboundSettings | None = None
    """How calls go out through it; the first trunk with `outbound` carries every outbound
    call (click-to-call, campaigns, `dial:`)."""
    sip: TrunkSipSettings | None = None
    """The trunk's SIP side made by zentrale in Asterisk (without it: written in pjsip.conf)."""

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None and not phones.is_region(value):
            raise ValueError(f"'{value}' is not a country code phone numbers are known for")
        return value.upper() if value is not None else None


class LoggingSettings(Section):
    """Log format and level; phone numbers are masked unless an operator turns it off."""

    format: Literal["auto", "console", "json"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"
    mask_numbers: bool = True


class RoutingSettings(Section):
    """Where the supervisors' routing rules live, and where applied versions are kept."""

    file: Path = Path("config/routing.yaml")
    history_dir: Path = Path("var/routing-history")


class KnowledgeSettings(Section):
    """Where the supervisors' call scripts and articles live (None: none), and their history."""

    dir: Path | None = None
    history_dir: Path = Path("var/knowledge-history")


class DatabaseSettings(Section):
    """The metadata database: SQLite by default, PostgreSQL at scale."""

    url: SecretStr = SecretStr("sqlite+aiosqlite:///var/zentrale.db")


class S3StorageSettings(Section):
    """An S3 (or S3-compatible) bucket for recordings."""

    bucket: str = ""
    prefix: str = "recordings/"
    endpoint_url: str | None = None
    region: str | None = None
    checksums: bool = True
    """Send integrity checksums; turn off for stores that reject the newer checksum headers."""
    sse_kms_key_id: str | None = None
    multipart_threshold_mib: int = Field(default=16, ge=5, le=5120)


class StorageSettings(Section):
    """Where encrypted recordings are kept: local disk by default, S3 at scale."""

    kind: Literal["local", "s3"] = "local"
    path: Path = Path("var/recordings")
    s3: S3StorageSettings = S3StorageSettings()


class RecipientSettings(Section):
    """Who can decrypt new recordings: one key provider entry."""

    provider: Literal["public", "kms", "local"]
    public_key_file: Path | None = None
    kms_key_id: str | None = None
    keyring_file: Path | None = None
    key_name: str | None = None


class KeySettings(Section):
    """Key providers that wrap each recording's data key (every recipient can decrypt)."""

    recipients: tuple[RecipientSettings, ...] = (
        RecipientSettings(provider="local", keyring_file=Path("var/keys/keyring.json")),
    )


class RecordingSettings(Section):
    """How finished recordings are processed before they are stored."""

    format: Literal["opus", "wav", "mp3"] = "opus"
    two_party: bool = False
    """Record caller and agent separately and store one stereo file (caller left, agent right)."""
    temp_dir: Path = Path("var/tmp")
    workers: int = Field(default=2, ge=1, le=64)
    max_attempts: int = Field(default=8, ge=1, le=100)
    delete_from_asterisk: bool = True
    asterisk_spool: Path | None = None
    """Asterisk's recording spool as this host sees it (`/var/spool/asterisk/recording` when
    Asterisk runs beside the daemon; a shared volume in containers). When set, the pipeline
    reads this node's finished recordings there and deletes them there: two ARI requests fewer
    per recording, one of them the file over HTTP. A file not there, or not readable by the
    daemon's user, is fetched over ARI as without it (and logged once)."""
    min_free_mb: int = Field(default=512, ge=0)
    """Free space (MiB) the temp directory (and a local store) must keep: below it the node
    is not ready (`/readyz` 503), so calls and their recordings go to nodes with room."""
    outage_backoff_max: float = Field(default=30.0, gt=0, le=3600)
    """Longest wait (seconds) of a job for a store that is away; it goes on within this long
    after the store returns. Attempts do not count meanwhile."""
    poll_interval: float = Field(default=5.0, gt=0, le=600)
    """Seconds an idle pipeline worker waits before it asks the database for jobs unprompted.
    Jobs this node queues, and its retries coming due, wake a worker at once; the poll finds
    jobs queued by other nodes (or `zentrale recordings requeue` from another process), so
    they wait at most this long. 0.5 was the fixed interval before it was a setting."""


class HttpSettings(Section):
    """The daemon's own HTTP server: prompts for Asterisk, health, metrics, the QA API."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8800
    public_url: str | None = None
    """How Asterisk and browsers reach this server (default: http://host:port)."""
    trusted_proxies: list[Annotated[str, Field(min_length=1, max_length=64, pattern=_PROXY)]] = (
        Field(default_factory=list)
    )
    """Addresses or networks (`10.0.0.5`, `10.0.0.0/24`) of reverse proxies whose
    `X-Forwarded-For`/`X-Forwarded-Proto` are believed; none by default, so the client address
    written to the audit log and used by the sign-in limit is the socket's peer."""
    max_body_bytes: Annotated[int, Field(ge=1024, le=1024**3)] = 1024 * 1024
    """Largest request body accepted (uploads of prompts included); larger: 413."""

    def url(self, port: int | None = None) -> str:
        """Return the URL others use to reach this server (the bound PORT if given)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{port or self.port}"


class ApiSettings(Section):
    """The QA web pages and HTTP API (served by `zentrale api`, or inside the daemon)."""

    enabled: bool = True
    session_secret: SecretStr | None = None
    """Signs browser sessions (default: made once, kept in state_dir/secrets)."""
    cookie_secure: bool = True
    """Send session cookies over HTTPS only; turn off only for http://127.0.0.1 trials."""
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 12
    token_days: Annotated[int, Field(ge=1, le=3650)] = 90
    login_attempts_per_minute: Annotated[int, Field(ge=1, le=1000)] = 5
    require_second_factor: bool = False
    """Admins and supervisors must sign in with a TOTP code (enrol with `zentrale users totp`
    or `POST /api/me/totp`); others may use one too."""
    scorecards_file: Path = Path("config/scorecards.yaml")


class AuditSettings(Section):
    """Signed checkpoints of the audit chain's head, kept in the object store (core.anchor)."""

    anchor_key: SecretStr | None = None
    """HMAC key signing checkpoints (default: made once, kept in state_dir/secrets); keep a
    copy away from the database server: whoever holds it and the database can forge both."""
    checkpoint_interval: Annotated[float, Field(ge=1, le=86400)] = 300.0
    """Seconds between two checkpoints while the log grows (`zentrale api serve`, the daemon)."""
    checkpoint_retention_days: Annotated[int, Field(ge=0, le=36500)] = 0
    """On S3, lock each checkpoint against deletion for this many days (Object Lock, compliance
    mode; the bucket must be created with Object Lock enabled); 0: no lock."""


class PromptSettings(Section):
    """Supervisors' prompt files, served to Asterisk over HTTP."""

    dir: Path = Path("var/prompts")
    token: SecretStr | None = None
    """Capability token in the prompt URLs (default: made once, kept in state_dir/secrets)."""


class RetentionSettings(Section):
    """Retention rules and the daemon's scheduled purge (docs/privacy.md)."""

    file: Path = Path("config/retention.yaml")
    interval: Annotated[float, Field(ge=1, le=31 * 86400)] = 86400.0
    """Seconds between two purges inside the daemon (default: daily)."""
    destruction_record_years: Annotated[int, Field(ge=3, le=100)] = 3
    """How long destruction records are kept (KVKK expects at least 3 years)."""
    agent_states_days: Annotated[int, Field(ge=1, le=36500)] = 365
    """Days the agent state log (`agent_states`, employees' personal data) is kept after a
    state ended; older rows are deleted by the purge (default: a year, for yearly figures)."""


class OpsSettings(Section):
    """Health, readiness and metrics; the other nodes sharing the database and the store."""

    metrics_token: SecretStr | None = None
    """Bearer token for /metrics (default: made once, kept in state_dir/secrets/metrics-token)."""
    check_interval: Seconds = 5.0
    """How long a readiness probe's result and the pipeline backlog figures are reused."""
    peers: dict[str, AriSettings] = Field(default_factory=dict)
    """Other nodes' Asterisk by node name: recordings of their calls are fetched from there
    when this node's workers take their jobs (e.g. after that node's daemon died)."""


class SandboxSettings(Section):
    """The sandbox Asterisk used by `zentrale demo` and `zentrale sandbox`."""

    @field_validator("cache_dir")
    @classmethod
    def _home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    cache_dir: Path | None = None
    name: str = Field(default="default", pattern=r"^[a-z0-9-]{1,32}$")
    http_port: Port = 8088


class Settings(Section):
    """Everything zentrale reads at start-up."""

    state_dir: Path = Path("var")
    node: str = Field(default="node1", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    ari: AriSettings = AriSettings()
    telephony: TelephonySettings = TelephonySettings()
    agents: AgentSettings = AgentSettings()
    logging: LoggingSettings = LoggingSettings()
    routing: RoutingSettings = RoutingSettings()
    knowledge: KnowledgeSettings = KnowledgeSettings()
    database: DatabaseSettings = DatabaseSettings()
    http: HttpSettings = HttpSettings()
    api: ApiSettings = ApiSettings()
    audit: AuditSettings = AuditSettings()
    prompts: PromptSettings = PromptSettings()
    recording: RecordingSettings = RecordingSettings()
    storage: StorageSettings = StorageSettings()
    keys: KeySettings = KeySettings()
    ops: OpsSettings = OpsSettings()
    retention: RetentionSettings = RetentionSettings()
    sandbox: SandboxSettings = SandboxSettings()
    trunks: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")], TrunkSettings] = Field(
        default_factory=dict
    )
    """SIP trunks by name (docs/operator.md, "Trunks")."""


class SettingsError(ZentraleError):
    """Settings could not be loaded; each problem names its key and where it came from."""

    code = "settings"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid settings:\n  " + "\n  ".join(problems))
        self.problems = problems


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load settings from PATH (if given) and ENVIRON (default: os.environ)."""
    env = os.environ if environ is None else environ
    tree = _read(path) if path is not None else {}
    try:
        settings = Settings.model_validate(_merge(tree, env_overrides(env)))
    except ValidationError as exc:
        raise SettingsError([_describe(err, path, tree, env) for err in exc.errors()]) from None
    problems = _trunk_problems(settings, path, tree) + _trunk_secrets(settings, path, tree, env)
    if problems:
        raise SettingsError(problems)
    return settings


def _trunk_problems(settings: Settings, path: Path | None, tree: Any) -> list[str]:
    """What the trunks get wrong across keys: DIDs that are no number, the old single setting."""
    problems = []
    for name, trunk in settings.trunks.items():
        country = trunk.country or settings.telephony.region
        for did in trunk.inbound.dids:
            if phones.parse_valid(did, country) is None:
                loc = ("trunks", name, "inbound", "dids", did)
                problems.append(
                    _at(path, tree, loc, f"'{did}' is not a phone number (read in {country})")
                )
    legacy = {"outbound_endpoint", "outbound_caller_id"} & settings.telephony.model_fields_set
    if legacy and any(trunk.outbound is not None for trunk in settings.trunks.values()):
        key = sorted(legacy)[0]
        problems.append(
            _at(
                path,
                tree,
                ("telephony", key),
                "the trunks' outbound settings replace it: move it to trunks.<name>.outbound"
                " (dial, caller_id) and remove it here",
            )
        )
    return problems


def _trunk_secrets(
    settings: Settings, path: Path | None, tree: Any, env: Mapping[str, str]
) -> list[str]:
    """Whether each trunk's registration password can be read (never the password itself)."""
    problems: list[str] = []
    for name, trunk in settings.trunks.items():
        registration = trunk.sip.registration if trunk.sip is not None else None
        if registration is None:
            continue
        key = "password_env" if registration.password_env is not None else "password_file"
        try:
            registration.secret(env)
        except SettingsError as exc:
            loc = ("trunks", name, "sip", "registration", key)
            problems.extend(_at(path, tree, loc, problem) for problem in exc.problems)
    return problems


def _at(path: Path | None, tree: Any, loc: tuple[str, ...], message: str) -> str:
    key = ".".join(loc)
    if path is None:
        return f"{key}: {message}"
    line, column = locate(tree, loc)
    return f"{path}:{line}:{column}: {key}: {message}"


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError([f"{path}: cannot read the settings file: {exc.strerror}"]) from None
    try:
        tree = parse_yaml(text)
    except YamlSyntaxError as exc:
        raise SettingsError([f"{path}:{exc}"]) from None
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise SettingsError([f"{path}:1:1: the settings file must be a mapping of sections"])
    return tree


def env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """Turn ZENTRALE_A__B=v variables into {"a": {"b": "v"}}."""
    tree: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == "ZENTRALE_CONFIG":
            continue
        keys = name[len(ENV_PREFIX) :].lower().split("__")
        node = tree
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return tree


def _merge(base: Any, top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base) if isinstance(base, dict) else {}
    for key, value in top.items():
        below = merged.get(key)
        merged[key] = _merge(below, value) if isinstance(value, dict) else value
    return merged


def _describe(
    error: Mapping[str, Any], path: Path | None, tree: Any, env: Mapping[str, str]
) -> str:
    loc = tuple(str(part) for part in error["loc"])
    key = ".".join(loc)
    variable = ENV_PREFIX + "__".join(part.upper() for part in loc)
    message = _message(error)
    if variable in env:
        return f"{key}: {message} (from environment variable {variable})"
    if path is None:
        return f"{key}: {message}"
    line, column = locate(tree, loc)
    return f"{path}:{line}:{column}: {key}: {message}"


def _message(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown setting (check the spelling; see config/zentrale.yaml for every key)"
    text = str(error["msg"])
    return text.removeprefix("Value error, ")
