"""Scripts and articles as files: every problem is reported with its file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from zentrale.knowledge.errors import InvalidKnowledgeError
from zentrale.knowledge.load import load_knowledge, parse_knowledge

DEPARTMENTS = frozenset({"sales", "support"})
SCRIPT = """---
title: Sales script
departments: [sales]
---
# Hello {customer.name}

Your customer number: {customer.customer_number}
"""
ARTICLE = """---
title: Prices
departments: [sales, support]
tags: [prices, tariff]
---
Basic costs 19.90 a month.
"""
REPO = Path(__file__).parents[3]


def problems(files: dict[str, str]) -> list[str]:
    with pytest.raises(InvalidKnowledgeError) as caught:
        parse_knowledge(files, "kb", DEPARTMENTS)
    return [str(issue) for issue in caught.value.issues]


def test_a_valid_set_has_its_scripts_articles_and_a_version() -> None:
    found = parse_knowledge(
        {"scripts/sales.md": SCRIPT, "articles/prices.md": ARTICLE}, "kb", DEPARTMENTS
    )
    (script,) = found.scripts
    (article,) = found.articles
    assert (script.id, script.title, script.departments, script.body_line) == (
        "sales",
        "Sales script",
        ("sales",),
        5,
    )
    assert (article.id, article.tags) == ("prices", ("prices", "tariff"))
    assert found.script_for("sales", "de") is script
    assert found.script_for("support", None) is None
    again = parse_knowledge(
        {"scripts/sales.md": SCRIPT, "articles/prices.md": ARTICLE}, "kb", DEPARTMENTS
    )
    changed = parse_knowledge(
        {"scripts/sales.md": SCRIPT + "\nBye.\n", "articles/prices.md": ARTICLE}, "kb", DEPARTMENTS
    )
    assert found.version == again.version != changed.version


def test_an_unknown_placeholder_is_named_with_its_line_and_column() -> None:
    text = SCRIPT + "\nAsk for {customer.nmae} and {order_id}.\n"
    assert problems({"scripts/sales.md": text}) == [
        "kb/scripts/sales.md:9:9: error: unknown placeholder {customer.nmae}; did you mean "
        "'customer.name'?; known: {customer.name}, {customer.customer_number}, "
        "{customer.language}, {customer.numbers}, {caller}, {department}, {agent.name}",
        "kb/scripts/sales.md:9:29: error: unknown placeholder {order_id}; known: "
        "{customer.name}, {customer.customer_number}, {customer.language}, "
        "{customer.numbers}, {caller}, {department}, {agent.name}",
    ]


def test_a_missing_title_an_unknown_department_and_an_unknown_key() -> None:
    no_title = "---\ndepartments: [sales]\n---\nText\n"
    unknown = "---\ntitle: X\ndepartments:\n  - sales\n  - sails\n---\nText\n"
    extra = "---\ntitle: X\ndepartments: [sales]\nauthor: me\n---\nText\n"
    assert problems(
        {"articles/a.md": no_title, "articles/b.md": unknown, "articles/c.md": extra}
    ) == [
        "kb/articles/a.md:2:1: error: missing required key 'title' in the front matter",
        "kb/articles/b.md:5:5: error: departments[1]: unknown department 'sails'; did you mean "
        "'sales'?; known: sales, support",
        "kb/articles/c.md:4:1: error: author: unknown key 'author' in the front matter; known: "
        "title, departments, tags, language",
    ]


def test_bad_front_matter_is_located() -> None:
    assert problems({"articles/a.md": "---\ntitle: [unclosed\ndepartments: [sales]\n---\nx\n"})[
        0
    ].startswith("kb/articles/a.md:3:")
    assert problems({"articles/a.md": "# no front matter\n"}) == [
        "kb/articles/a.md:1:1: error: missing front matter: start the file with a line '---', "
        "then title: and departments:, and close it with another '---'"
    ]
    assert problems({"articles/a.md": "---\ntitle: x\n"}) == [
        "kb/articles/a.md:1:1: error: the front matter is not closed: add a line '---' after it"
    ]
    assert problems({"articles/a.md": "---\n- a list\n---\nx\n"}) == [
        "kb/articles/a.md:2:1: error: bad front matter: it must be keys such as title: and "
        "departments:"
    ]
    assert problems({"articles/a.md": "---\ntitle: 42\ndepartments: [sales]\n---\nx\n"}) == [
        "kb/articles/a.md:2:1: error: title: Input should be a valid string (found 42)"
    ]


def test_two_scripts_for_one_department_and_language_and_misplaced_files() -> None:
    other = SCRIPT.replace("Sales script", "Other")
    assert problems({"scripts/a.md": SCRIPT, "scripts/b.md": other, "notes.md": ARTICLE}) == [
        "kb/notes.md:1:1: error: put the file in scripts/ or articles/",
        "kb/scripts/b.md:3:1: error: departments: department 'sales' already has a script "
        "(no language) in kb/scripts/a.md; a department has one script per language",
    ]
    german = SCRIPT.replace("[sales]", "[sales]\nlanguage: de")
    found = parse_knowledge({"scripts/a.md": SCRIPT, "scripts/b.md": german}, "kb", DEPARTMENTS)
    assert found.script_for("sales", "de").id == "b"  # type: ignore[union-attr]
    assert found.script_for("sales", "tr").id == "a"  # type: ignore[union-attr]


def test_the_shipped_examples_are_valid_against_the_shipped_rules() -> None:
    from zentrale.routing.load import load_rules

    departments = frozenset(load_rules(REPO / "config" / "routing.yaml").document.departments)
    found = load_knowledge(REPO / "config" / "knowledge", departments)
    assert {script.language for script in found.scripts} >= {"de", "en"}
    assert {article.language for article in found.articles} >= {"de", "en"}


def test_a_missing_directory_is_an_error_and_none_is_no_knowledge(tmp_path: Path) -> None:
    assert load_knowledge(None, DEPARTMENTS).scripts == ()
    with pytest.raises(InvalidKnowledgeError, match="no such directory"):
        load_knowledge(tmp_path / "nowhere", DEPARTMENTS)


def test_the_guides_example_file_is_a_valid_script() -> None:
    import re

    from zentrale.routing.load import load_rules

    guide = (REPO / "docs" / "knowledge.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```markdown\n(.*?)```", guide, re.DOTALL)
    departments = frozenset(load_rules(REPO / "config" / "routing.yaml").document.departments)
    found = parse_knowledge({"scripts/example.md": block}, "docs", departments)
    assert found.scripts[0].title == "Gesprächsleitfaden Vertrieb"
