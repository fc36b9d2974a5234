"""An agent in Chromium opens the customer of their call, completes a missing field and
leaves a suggestion for management; the API then shows both (and the e-mail filled in)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from .conftest import SCREENSHOTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]

CALLER = "+905551112233"  # the caller of call sales1, which the agent answered


async def test_agent_completes_a_customer_and_leaves_a_suggestion(
    service: dict[str, Any], browser: Browser, password: str
) -> None:
    url, world = service["url"], service["world"]
    async with httpx.AsyncClient(base_url=url) as api:
        body = {"numbers": [CALLER], "customer_number": "K-100"}
        created = await api.post("/api/customers", headers=world.auth("admin"), json=body)
        assert created.status_code == 201, created.text
        customer_id = created.json()["id"]

        page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
        await sign_in(page, url, "agent", password)

        await page.get_by_role("link", name="Customers").click()
        call_row = page.locator('#recent-calls tr[data-call="sales1"]')
        await expect(page.locator("#recent-calls tbody tr")).to_have_count(1)  # only their call
        await call_row.get_by_role("link", name="Customer").click()
        await page.wait_for_url(f"{url}/customers/{customer_id}?call=sales1")
        missing = page.locator('dd[data-field="missing"]')
        await expect(missing).to_have_text("Name, Language")

        edit = page.locator("#customer-edit")
        await expect(edit.get_by_label("Customer number")).to_have_count(0)  # filled already
        await edit.get_by_label("Name").fill("Ayşe Demir")
        await edit.get_by_label("E-mail").fill("Ayse@Example.COM")
        await edit.get_by_role("button", name="Save").click()
        await expect(page.locator("h1")).to_have_text("Ayşe Demir")
        await expect(page.locator('dd[data-field="email"]')).to_have_text("Ayse@example.com")
        await expect(edit.get_by_label("E-mail")).to_have_count(0)  # filled: a supervisor's
        await expect(missing).to_have_text("Language")

        notes = page.locator("#note-form")
        await expect(notes.get_by_label("Call")).to_have_value("sales1")
        await notes.get_by_label("Kind").select_option("suggestion")
        await notes.get_by_label("Text").fill("Please offer Saturday appointments")
        await notes.get_by_role("button", name="Leave a note").click()
        row = page.locator('#history tr[data-call="sales1"]')
        await expect(row.locator("ul.notes")).to_contain_text("Please offer Saturday appointments")
        await page.screenshot(path=str(SCREENSHOTS / "customer.png"), full_page=True)
        await page.context.close()

        record = (
            await api.get(f"/api/customers/{customer_id}", headers=world.auth("agent"))
        ).json()
        assert (record["name"], record["customer_number"]) == ("Ayşe Demir", "K-100")
        assert record["email"] == "Ayse@example.com"
        listed = await api.get(
            "/api/notes", params={"kind": "suggestion"}, headers=world.auth("super")
        )
        (note,) = listed.json()
        assert (note["text"], note["call_id"], note["department"], note["customer_id"]) == (
            "Please offer Saturday appointments",
            "sales1",
            "sales",
            customer_id,
        )
        assert note["author_name"] == "Agent"
