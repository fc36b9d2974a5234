"""German and English texts of the web pages, and which language a request gets.

The `lang` cookie (set by the switch in the page header) wins; else the best of the
Accept-Language header; else English.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("en", "de")
DEFAULT = "en"

TEXTS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "title": "Call recordings",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "username": "User name",
        "password": "Password",
        "login_failed": "Wrong user name or password.",
        "too_many": "Too many attempts; wait a minute.",
        "code": "Code from the authenticator app (if set up)",
        "code_needed": "Enter the code from your authenticator app, or a recovery code.",
        "not_enrolled": "This account needs a second factor; ask an administrator.",
        "recordings": "Recordings",
        "audit": "Audit log",
        "filter": "Filter",
        "since": "From",
        "until": "Until",
        "department": "Department",
        "agent": "Agent",
        "direction": "Direction",
        "any": "any",
        "inbound": "inbound",
        "outbound": "outbound",
        "caller": "Caller number",
        "min_duration": "Min. seconds",
        "max_duration": "Max. seconds",
        "tag": "Tag",
        "min_score": "Min. score",
        "max_score": "Max. score",
        "survey_max": "Survey answer at most",
        "when": "When",
        "duration": "Duration",
        "score": "Score",
        "tags": "Tags",
        "no_results": "No recordings match.",
        "next_page": "Next page",
        "play": "Play / pause",
        "timeline": "Call timeline",
        "scorecard": "Scorecard",
        "save_evaluation": "Save evaluation",
        "yes": "yes",
        "no": "no",
        "note": "Note",
        "evaluations": "Evaluations",
        "passed": "passed",
        "failed": "failed",
        "auto_failed": "auto-fail",
        "comments": "Comments",
        "add_comment": "Add comment",
        "at_seconds": "At second",
        "now": "Current position",
        "add_tag": "Add tag",
        "acknowledge": "Acknowledge",
        "acknowledged": "acknowledged",
        "download": "Download",
        "reason": "Reason",
        "keys_help": "Keys: space play/pause, ← → 5 s back/forward, Home start.",
        "who": "Who",
        "what": "What",
        "target": "Target",
        "from": "From",
        "why": "Why",
        "not_stored": "The audio is not stored yet.",
        "language": "Language",
        "evaluator": "Evaluator",
    },
    "de": {
        "title": "Gesprächsaufzeichnungen",
        "sign_in": "Anmelden",
        "sign_out": "Abmelden",
        "username": "Benutzername",
        "password": "Passwort",
        "login_failed": "Benutzername oder Passwort falsch.",
        "too_many": "Zu viele Versuche; bitte eine Minute warten.",
        "code": "Code aus der Authenticator-App (falls eingerichtet)",
        "code_needed": (
            "Bitte den Code aus der Authenticator-App oder einen Wiederherstellungscode eingeben."
        ),
        "not_enrolled": (
            "Dieses Konto braucht einen zweiten Faktor; bitte an die Administration wenden."
        ),
        "recordings": "Aufzeichnungen",
        "audit": "Prüfprotokoll",
        "filter": "Filtern",
        "since": "Von",
        "until": "Bis",
        "department": "Abteilung",
        "agent": "Agent",
        "direction": "Richtung",
        "any": "alle",
        "inbound": "eingehend",
        "outbound": "ausgehend",
        "caller": "Rufnummer",
        "min_duration": "Min. Sekunden",
        "max_duration": "Max. Sekunden",
        "tag": "Schlagwort",
        "min_score": "Min. Punkte",
        "max_score": "Max. Punkte",
        "survey_max": "Umfrageantwort höchstens",
        "when": "Wann",
        "duration": "Dauer",
        "score": "Bewertung",
        "tags": "Schlagwörter",
        "no_results": "Keine Aufzeichnungen gefunden.",
        "next_page": "Nächste Seite",
        "play": "Abspielen / Pause",
        "timeline": "Gesprächsverlauf",
        "scorecard": "Bewertungsbogen",
        "save_evaluation": "Bewertung speichern",
        "yes": "ja",
        "no": "nein",
        "note": "Anmerkung",
        "evaluations": "Bewertungen",
        "passed": "bestanden",
        "failed": "nicht bestanden",
        "auto_failed": "K.-o.-Kriterium",
        "comments": "Kommentare",
        "add_comment": "Kommentar hinzufügen",
        "at_seconds": "Bei Sekunde",
        "now": "Aktuelle Position",
        "add_tag": "Schlagwort hinzufügen",
        "acknowledge": "Bestätigen",
        "acknowledged": "bestätigt",
        "download": "Herunterladen",
        "reason": "Grund",
        "keys_help": "Tasten: Leertaste Abspielen/Pause, ← → 5 s zurück/vor, Pos1 Anfang.",
        "who": "Wer",
        "what": "Was",
        "target": "Ziel",
        "from": "Von wo",
        "why": "Warum",
        "not_stored": "Die Aufnahme ist noch nicht gespeichert.",
        "language": "Sprache",
        "evaluator": "Bewertet von",
    },
}


def choose(cookie: str | None, accept_language: str | None) -> str:
    """Return the language for a request from the `lang` cookie or Accept-Language."""
    if cookie in LANGUAGES:
        return str(cookie)
    for lang, _quality in sorted(_parse(accept_language or ""), key=lambda pair: -pair[1]):
        if lang in LANGUAGES:
            return lang
    return DEFAULT


def _parse(header: str) -> list[tuple[str, float]]:
    found = []
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        found.append((name.split("-")[0].lower(), quality))
    return found
