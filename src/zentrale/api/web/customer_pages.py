"""The customer pages: find a customer, open the customer of a call, the customer card with its
history, a form to complete missing fields and a form for notes on calls.

They use the API's rules (`zentrale.api.routes_customers.CustomerAccess`): the same scopes, the
same audit entries. Forms carry the session's CSRF token and answer with a redirect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from zentrale.api.auth import Caller, deps_of
from zentrale.api.routes_customers import CustomerAccess, scope_of
from zentrale.api.text import form_text
from zentrale.api.web.render import language, render
from zentrale.base.errors import BadRequestError, NotFoundError
from zentrale.calls.models import Call
from zentrale.core.models import Role
from zentrale.customers import store
from zentrale.customers.models import NoteKind
from zentrale.customers.store import Changes, NewCustomer

customer_pages = APIRouter(include_in_schema=False)

CustomerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]
CallId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
RECENT_CALLS = 20

TEXTS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "customers": "Customers",
        "record": "Customer record",
        "search": "Search",
        "search_help": "Name, customer number, e-mail or phone number",
        "recent_calls": "Your recent calls",
        "open_customer": "Customer",
        "no_customers": "No customer matches.",
        "name": "Name",
        "customer_number": "Customer number",
        "language": "Language",
        "email": "E-mail",
        "vip": "VIP",
        "notes": "Notes",
        "numbers": "Phone numbers",
        "missing": "Missing",
        "complete": "Complete the record",
        "save": "Save",
        "history": "Calls",
        "outcome": "Outcome",
        "recordings": "Recordings",
        "call_notes": "Notes on calls",
        "add_note": "Leave a note",
        "call": "Call",
        "kind": "Kind",
        "text": "Text",
        "note": "note",
        "disposition": "disposition",
        "suggestion": "suggestion for management",
        "new_customer": "New customer",
        "create": "Create customer",
        "add_number": "Add a phone number",
        "unknown_caller": "No customer has this number yet.",
        "edit": "Change the record",
        "yes": "yes",
        "no": "no",
        "none": "none",
    },
    "de": {
        "customers": "Kunden",
        "record": "Kundendaten",
        "search": "Suchen",
        "search_help": "Name, Kundennummer, E-Mail oder Rufnummer",
        "recent_calls": "Ihre letzten Anrufe",
        "open_customer": "Kunde",
        "no_customers": "Kein Kunde gefunden.",
        "name": "Name",
        "customer_number": "Kundennummer",
        "language": "Sprache",
        "email": "E-Mail",
        "vip": "VIP",
        "notes": "Notizen",
        "numbers": "Rufnummern",
        "missing": "Fehlt",
        "complete": "Daten ergänzen",
        "save": "Speichern",
        "history": "Anrufe",
        "outcome": "Ergebnis",
        "recordings": "Aufzeichnungen",
        "call_notes": "Notizen zu Anrufen",
        "add_note": "Notiz hinterlassen",
        "call": "Anruf",
        "kind": "Art",
        "text": "Text",
        "note": "Notiz",
        "disposition": "Abschluss",
        "suggestion": "Vorschlag an die Leitung",
        "new_customer": "Neuer Kunde",
        "create": "Kunden anlegen",
        "add_number": "Rufnummer hinzufügen",
        "unknown_caller": "Zu dieser Nummer gibt es noch keinen Kunden.",
        "edit": "Daten ändern",
        "yes": "ja",
        "no": "nein",
        "none": "keine",
    },
}


def _page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    return render(request, template, status, ct=TEXTS[language(request)], **context)


@customer_pages.get("/customers", name="web.customers")
async def customers(caller: Caller, request: Request) -> Response:
    """Search customers; below, the user's recent calls, each opening its customer."""
    deps = deps_of(request)
    q = form_text(request.query_params, "q", 100).strip()
    found = None
    async with deps.db.write() as session:
        if q:
            found = await CustomerAccess(session, caller, deps.clock()).find(None, q)
        query = select(Call).where(scope_of(caller).calls())
        recent = list(
            await session.scalars(query.order_by(Call.arrived_at.desc()).limit(RECENT_CALLS))
        )
    return _page(request, "customers.html", caller=caller, q=q, found=found, recent=recent)


@customer_pages.get("/calls/{call_id}/customer", name="web.customer_of_call")
async def customer_of_call(caller: Caller, request: Request, call_id: CallId) -> Response:
    """Open the customer of a call, or offer to create one for the call's number."""
    deps = deps_of(request)
    async with deps.db.read() as session:
        query = select(Call).where(Call.id == call_id, scope_of(caller).calls())
        call = (await session.scalars(query)).first()
        if call is None:
            raise NotFoundError(f"no call {call_id!r}")
        number = store.customer_side(call)
        record = await store.by_number(session, number) if number else None
    if record is not None:
        return RedirectResponse(f"/customers/{record.id}?call={call.id}", status_code=303)
    return _page(request, "customer_new.html", caller=caller, call=call, number=number or "")


@customer_pages.post("/customers", name="web.customer_create")
async def create(caller: Caller, request: Request) -> Response:
    """Create a customer from the form (a call's number, name, customer number, language,
    e-mail)."""
    deps = deps_of(request)
    form = await request.form()

    def field(name: str) -> str | None:
        return form_text(form, name, 128).strip() or None

    new = NewCustomer(
        numbers=[form_text(form, "number", 40)],
        name=field("name"),
        customer_number=field("customer_number"),
        language=field("language"),
        email=form_text(form, "email", 4000).strip() or None,  # too long: refused, not cut
    )
    async with deps.db.write() as session:
        record = await CustomerAccess(session, caller, deps.clock()).create(new)
    call = form_text(form, "call", 64)
    return RedirectResponse(_card(record.id, call), status_code=303)


@customer_pages.get("/customers/{customer_id}", name="web.customer")
async def card(caller: Caller, request: Request, customer_id: CustomerId) -> Response:
    """The customer card: record, missing fields to complete, calls with notes, note form."""
    deps = deps_of(request)
    async with deps.db.write() as session:
        access = CustomerAccess(session, caller, deps.clock())
        record = await access.show(customer_id)
        history = await access.history(customer_id)
    return _page(
        request,
        "customer.html",
        caller=caller,
        record=record,
        history=history,
        call=request.query_params.get("call", ""),
        kinds=[k.value for k in NoteKind],
        supervisor=caller.role is not Role.AGENT,
    )


@customer_pages.post("/customers/{customer_id}/edit", name="web.customer_edit")
async def edit(caller: Caller, request: Request, customer_id: CustomerId) -> Response:
    """Store the fields filled in (empty inputs are left as they are) and a new number."""
    deps = deps_of(request)
    form = await request.form()
    fields: dict[str, Any] = {}
    for name in ("name", "customer_number", "language", "email", "notes"):
        value = form_text(form, name, 4000).strip()
        if value:
            fields[name] = value
    if caller.role is not Role.AGENT and "vip_sent" in form:
        fields["vip"] = form.get("vip") == "on"
    number = form_text(form, "add_number", 40).strip()
    changes = Changes(fields, (number,) if number else ())
    async with deps.db.write() as session:
        await CustomerAccess(session, caller, deps.clock()).update(customer_id, changes)
    return RedirectResponse(_card(customer_id, form_text(form, "call", 64)), status_code=303)


@customer_pages.post("/customers/{customer_id}/notes", name="web.customer_note")
async def note(caller: Caller, request: Request, customer_id: CustomerId) -> Response:
    """Leave a note, disposition or suggestion on one of the customer's calls."""
    deps = deps_of(request)
    form = await request.form()
    call_id, kind = form_text(form, "call_id", 64), form_text(form, "kind", 32)
    if kind not in {k.value for k in NoteKind}:
        raise BadRequestError(f"kind is one of {', '.join(k.value for k in NoteKind)}")
    async with deps.db.write() as session:
        access = CustomerAccess(session, caller, deps.clock())
        numbers = (await store.visible(session, customer_id, access.scope)).numbers
        call = await session.get(Call, call_id)
        if call is None or store.customer_side(call) not in numbers:
            raise NotFoundError(f"no call {call_id!r} of this customer")
        await access.note(call_id, NoteKind(kind), form_text(form, "text", 4000))
    return RedirectResponse(_card(customer_id, call_id), status_code=303)


def _card(customer_id: str, call: str) -> str:
    safe = call if call.replace("-", "").replace("_", "").replace(".", "").isalnum() else ""
    return f"/customers/{customer_id}" + (f"?call={safe}" if safe else "")
