"""Who may call which route: the role matrix, by route name (documented in docs/qa.md).

Every route of the QA service has an entry; `zentrale.api.auth.authorised` looks the route
up on each request, and a route without an entry is refused for everyone. Department scope
(what a role may see inside an allowed route) is `zentrale.core.principal.Principal.can_see` and
the capabilities' `visible` queries (`zentrale.qa.reviews`, `zentrale.customers.store`).
"""

from __future__ import annotations

from zentrale.core.models import Role

ADMIN, SUPERVISOR, QA, AGENT = Role.ADMIN, Role.SUPERVISOR, Role.QA, Role.AGENT
EVERYONE = frozenset(Role)
REVIEWERS = frozenset({ADMIN, SUPERVISOR, QA})
CUSTOMER_STAFF = frozenset({ADMIN, SUPERVISOR, AGENT})
PUBLIC: frozenset[Role] = frozenset()

# Routes anyone may call without signing in. The daemon's ops.* routes (zentrale.api.routes_ops)
# are not part of the QA app: the probes reveal only check names, /metrics wants its own
# bearer token (docs/operator.md).
PUBLIC_ROUTES = frozenset(
    {
        "auth.login",
        "openapi",
        "web.login_form",
        "web.login",
        "web.static",
        "health",
        "ops.healthz",
        "ops.readyz",
        "ops.metrics",
    }
)

MATRIX: dict[str, frozenset[Role]] = {
    # API: the signed-in user
    "auth.logout": EVERYONE,
    "me.show": EVERYONE,
    "me.tokens": EVERYONE,
    "me.token_create": EVERYONE,
    "me.token_revoke": EVERYONE,
    # Second factor: for the roles that may be made to use one (docs/security.md)
    "me.totp_start": frozenset({ADMIN, SUPERVISOR}),
    "me.totp_confirm": frozenset({ADMIN, SUPERVISOR}),
    # API: recordings (agents see only their own calls)
    "recordings.search": EVERYONE,
    "recordings.show": EVERYONE,
    "recordings.audio": EVERYONE,
    "recordings.download": REVIEWERS,
    "recordings.waveform": EVERYONE,
    # API: reviews
    "scorecards.show": REVIEWERS,
    "evaluations.list": EVERYONE,
    "evaluations.create": REVIEWERS,
    "evaluations.acknowledge": frozenset({AGENT}),
    "comments.list": EVERYONE,
    "comments.create": REVIEWERS,
    "tags.add": REVIEWERS,
    "tags.remove": REVIEWERS,
    # API: administration
    "audit.list": frozenset({ADMIN, SUPERVISOR}),
    "users.list": frozenset({ADMIN}),
    # API: data protection (legal holds, data-subject requests; docs/privacy.md)
    "holds.list": frozenset({ADMIN}),
    "holds.add": frozenset({ADMIN}),
    "holds.release": frozenset({ADMIN}),
    "subjects.export": frozenset({ADMIN}),
    "subjects.erase": frozenset({ADMIN}),
    # API: customer records and notes on calls (agents: customers and calls they took)
    "customers.search": CUSTOMER_STAFF,
    "customers.create": CUSTOMER_STAFF,
    "customers.show": CUSTOMER_STAFF,
    "customers.update": CUSTOMER_STAFF,
    "customers.history": CUSTOMER_STAFF,
    "notes.create": CUSTOMER_STAFF,
    "notes.list": frozenset({ADMIN, SUPERVISOR}),
    # API: outbound survey campaigns (inside the daemon)
    "campaigns.list": frozenset({ADMIN, SUPERVISOR}),
    "campaigns.create": frozenset({ADMIN, SUPERVISOR}),
    "campaigns.show": frozenset({ADMIN, SUPERVISOR}),
    "campaigns.start": frozenset({ADMIN, SUPERVISOR}),
    "campaigns.stop": frozenset({ADMIN, SUPERVISOR}),
    # API: live calls and agents (inside the daemon; agents act for their own phone only)
    "calls.place": frozenset({ADMIN, SUPERVISOR, AGENT}),
    "calls.transfer": frozenset({ADMIN, SUPERVISOR, AGENT}),
    "calls.active": frozenset({ADMIN, SUPERVISOR}),
    "agents.list": frozenset({ADMIN, SUPERVISOR}),
    "agents.pause": frozenset({ADMIN, SUPERVISOR, AGENT}),
    # The agent's workspace (inside the daemon; the agent's own endpoint only)
    "web.agent": frozenset({AGENT}),
    "agent.softphone": frozenset({AGENT}),
    "agent.state": frozenset({AGENT}),
    "agent.set_state": frozenset({AGENT}),
    "agent.events": frozenset({AGENT}),
    # Scripts and articles (docs/knowledge.md): the script and the record of the agent's call
    "knowledge.script": frozenset({AGENT}),
    "knowledge.complete_customer": frozenset({AGENT}),
    "knowledge.articles": frozenset({ADMIN, SUPERVISOR, AGENT}),
    "knowledge.article": frozenset({ADMIN, SUPERVISOR, AGENT}),
    "knowledge.status": frozenset({ADMIN, SUPERVISOR}),
    # Wrap-up (inside the daemon): the agent of the call writes, supervisors and admins read
    "agent.dispositions": frozenset({AGENT}),
    "agent.callbacks": frozenset({AGENT}),
    "agent.callback_cancel": frozenset({AGENT}),
    "wrapup.save": frozenset({AGENT}),
    "wrapup.show": frozenset({ADMIN, SUPERVISOR, AGENT}),
    "wrapup.list": frozenset({ADMIN, SUPERVISOR, AGENT}),
    # Transfers of a connected call (the agent's own; supervisors: their departments' calls)
    "agent.transfer_state": frozenset({ADMIN, SUPERVISOR, AGENT}),
    "agent.transfer_targets": frozenset({ADMIN, SUPERVISOR, AGENT}),
    "agent.transfer": frozenset({ADMIN, SUPERVISOR, AGENT}),
    "agent.consult": frozenset({ADMIN, SUPERVISOR, AGENT}),
    "agent.consult_complete": frozenset({ADMIN, SUPERVISOR, AGENT}),
    "agent.consult_cancel": frozenset({ADMIN, SUPERVISOR, AGENT}),
    # The agent pauses the recording of their own call (card data; docs/agents.md)
    "agent.recording": frozenset({AGENT}),
    "agent.set_recording": frozenset({AGENT}),
    # API: statistics and the live wallboard (supervisors: their departments)
    "stats.report": frozenset({ADMIN, SUPERVISOR}),
    "stats.csv": frozenset({ADMIN, SUPERVISOR}),
    "stats.suggestions": frozenset({ADMIN, SUPERVISOR}),
    "stats.agents": frozenset({ADMIN, SUPERVISOR}),
    "stats.agents_csv": frozenset({ADMIN, SUPERVISOR}),
    "wallboard.show": frozenset({ADMIN, SUPERVISOR}),
    "wallboard.events": frozenset({ADMIN, SUPERVISOR}),
    # The supervisors' page: agents live, listen / whisper / barge (their departments)
    "supervise.show": frozenset({ADMIN, SUPERVISOR}),
    "supervise.events": frozenset({ADMIN, SUPERVISOR}),
    "supervise.monitor": frozenset({ADMIN, SUPERVISOR}),
    "supervise.switch": frozenset({ADMIN, SUPERVISOR}),
    "supervise.stop": frozenset({ADMIN, SUPERVISOR}),
    # Web pages
    "web.logout": EVERYONE,
    "web.recordings": EVERYONE,
    "web.recording": EVERYONE,
    "web.evaluate": REVIEWERS,
    "web.comment": REVIEWERS,
    "web.tag": REVIEWERS,
    "web.acknowledge": frozenset({AGENT}),
    "web.audit": frozenset({ADMIN, SUPERVISOR}),
    "web.customers": CUSTOMER_STAFF,
    "web.customer": CUSTOMER_STAFF,
    "web.customer_of_call": CUSTOMER_STAFF,
    "web.customer_create": CUSTOMER_STAFF,
    "web.customer_edit": CUSTOMER_STAFF,
    "web.customer_note": CUSTOMER_STAFF,
    "web.dashboard": frozenset({ADMIN, SUPERVISOR}),
    "web.wallboard": frozenset({ADMIN, SUPERVISOR}),
    "web.supervise": frozenset({ADMIN, SUPERVISOR}),
}


def allowed(route: str, role: Role) -> bool:
    """Tell whether ROLE may call ROUTE (unknown routes: no one)."""
    return role in MATRIX.get(route, PUBLIC)
