"""Demo step: two travel agencies — one on a credit line, one prepaid — book groups into
the same slots the box office sells, through the signed agency API (the sandbox client);
then an amendment, a refused overdraft, and a partial refund, each checked against the
agency's ledger."""

from __future__ import annotations

from typing import Any

from hub.domain import Visitor
from sandbox.agency.client import AgencyClient
from sandbox.demo.context import DemoContext, Section
from sandbox.demo.ids import visitor

SLOT = "08:00-10:00"
PRICE = 15000  # the seeded group product, per visitor


class AgencyStep:
    title = "Travel agencies (signed API: credit and prepaid groups)"

    async def run(self, ctx: DemoContext) -> Section:
        section = Section(self.title)
        admin = {"Authorization": f"Bearer {ctx.admin_token}"}

        async def staff(method: str, path: str, body: Any = None) -> dict[str, Any]:
            url = f"{ctx.base_url}{path}"
            async with ctx.http.request(method, url, json=body, headers=admin) as resp:
                data: dict[str, Any] = await resp.json(content_type=None)
                if resp.status >= 300:
                    raise RuntimeError(f"{path}: {resp.status} {data}")
                return data

        async def onboard(agency_id: str, **profile: Any) -> AgencyClient:
            await staff("PUT", f"/api/admin/agencies/{agency_id}", {"name": agency_id, **profile})
            creds = await staff("POST", f"/api/admin/agencies/{agency_id}/credentials")
            return AgencyClient(ctx.http, ctx.base_url, creds["key_id"], creds["secret"])

        # Rosters stay open until the groups' slot starts on the busy day (tomorrow): the
        # default cut-off, 18:00 the day before, would close the amendment below whenever
        # the demo runs after 18:00 venue time.
        open_until_arrival = {"days_before": 0, "at": SLOT.split("-")[0]}
        credit = await onboard(
            "sunshine",
            type="originating_agency",
            payment="credit",
            credit_limit=300_000,
            cutoff=open_until_arrival,
        )
        prepaid = await onboard(
            "pinetree", type="local_agency", payment="prepaid", cutoff=open_until_arrival
        )
        await staff(
            "POST", "/api/admin/agencies/pinetree/top-up", {"amount": 160_000, "key": "wire-001"}
        )
        day = ctx.busy_day.isoformat()

        def people(first: int, n: int) -> list[Visitor]:
            return [
                Visitor.model_validate(visitor(9000 + first + i, 35, ctx.busy_day))
                for i in range(n)
            ]

        def group(order_no: str, n: int, **extra: Any) -> dict[str, Any]:
            return {
                "order_no": order_no,
                "product_id": "group",
                "travel_date": day,
                "slot": SLOT,
                "head_count": n,
                "guide": {"name": "导游 Wang", "licence_no": "D-3401-0001", "phone": "13900000001"},
                **extra,
            }

        upload = await credit.upload_roster(people(0, 12))
        section.expect("CSV roster accepted", upload.code == "ACCEPTED", upload.code)
        a = await credit.book(group("SUN-001", 12, roster_id=upload.body.get("roster_id")))
        b = await prepaid.book(
            group("PINE-001", 10, visitors=[v.model_dump(mode="json") for v in people(100, 10)])
        )
        for reply in (a, b):
            if reply.code == "ACCEPTED":
                ctx.sold["group"] += int(reply.body["group"]["head_count"])
            else:
                ctx.denied[reply.code] += 1
        section.expect("credit agency books 12 (CSV roster)", a.code == "ACCEPTED", a.code)
        section.expect("prepaid agency books 10 (JSON roster)", b.code == "ACCEPTED", b.code)

        over = await prepaid.book(
            group("PINE-002", 10, visitors=[v.model_dump(mode="json") for v in people(200, 10)])
        )
        ctx.denied[over.code] += over.code != "ACCEPTED"
        section.expect("overdraft refused", over.code == "INSUFFICIENT_FUNDS", over.code)

        ok_amend = ok_refund = False
        if a.code == "ACCEPTED":
            members = a.body["group"]["members"]
            # A visitor falls ill and someone else comes: replaced in place (same place,
            # same money; the group product's minimum size is not re-tested).
            amend = await credit.amend(
                "SUN-001", "A1", remove=[members[0]["ticket_id"]], add=people(500, 1)
            )
            ok_amend = (
                amend.code == "ACCEPTED"
                and len(amend.body["group"]["members"]) == 12
                and members[0]["ticket_id"]
                not in {m["ticket_id"] for m in amend.body["group"]["members"]}
            )
            section.expect("roster amendment: one visitor replaced", ok_amend, amend.code)
            refund = await credit.refund("SUN-001", "R1", [m["ticket_id"] for m in members[1:3]])
            ok_refund = (
                refund.code == "ACCEPTED" and refund.body.get("refunded_amount") == 2 * PRICE
            )
            section.expect("partial refund of 2 visitors", ok_refund, refund.code)
            if ok_refund:
                ctx.sold["group"] -= 2
        sun = (await staff("GET", "/api/admin/agencies/sunshine"))["account"]
        pine = (await staff("GET", "/api/admin/agencies/pinetree"))["account"]
        section.expect(
            "credit balance = -(12 - 2 refunded) x 150.00 (the replacement costs nothing)",
            sun["balance"] == -10 * PRICE,
            str(sun["balance"]),
        )
        section.expect(
            "prepaid balance = 1600.00 - 10 x 150.00",
            pine["balance"] == 160_000 - 10 * PRICE,
            str(pine["balance"]),
        )
        section.fact("slot shared with the box office", f"{day} {SLOT}")
        section.fact("sunshine (credit 3000.00)", f"balance {sun['balance'] / 100:.2f}")
        section.fact("pinetree (prepaid)", f"balance {pine['balance'] / 100:.2f}")
        statement = await staff(
            "GET", f"/api/admin/agencies/sunshine/statement?from={ctx.today}&to={ctx.today}"
        )
        section.fact(
            "sunshine statement",
            f"charged {statement['charged'] / 100:.2f}, refunded {statement['refunded'] / 100:.2f}",
        )
        return section
