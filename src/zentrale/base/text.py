"""Free text from clients may hold no NUL character, which no text column (nor a person) can use.

PostgreSQL refuses a NUL inside text, so letting one through turns a client's mistake into a
500. Fields and query parameters carry this pattern, in the API and the search alike.
"""

from __future__ import annotations

NO_NUL = r"^[^\x00]*$"
