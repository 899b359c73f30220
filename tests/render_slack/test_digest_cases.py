"""The digest's cases by what needs doing (owners as real mentions, only of user IDs), and the
true-up per plan in the digest and the summary."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bot.cases import Case, State, open_case, resolve
from bot.digest import CaseGroups, diff, group_cases, snapshot_of
from bot.overage import Company, Prices, build_report
from bot.render_slack import Message, render_digest, render_home, render_summary, to_text
from tests.render_slack.conftest import (
    FETCHED,
    HOSTILE,
    NOW,
    assert_message_fits,
    company,
    report_of,
    strings,
    texts,
)

SUBSET = Path(__file__).resolve().parents[3] / "shared" / "reference" / "slack"
PLANS = Prices(plans=(("Enterprise", Decimal("4.50")), ("Basic", Decimal("0.0333"))))


def case(n: int, *, state: State = State.NEW, owner: str | None = None, **fields: Any) -> Case:
    opened, _ = open_case(f"c{n:05d}", f"Company {n:05d}", seats_over=n + 1, at=FETCHED)
    return replace(opened, id=n, state=state, owner=owner, **fields)


def mentions(text: str) -> list[str]:
    return [part.split(">")[0] for part in text.split("<@")[1:]]


# --- grouping ----------------------------------------------------------------------------------


def test_cases_are_grouped_by_what_needs_doing_each_in_listing_order() -> None:
    cases = [
        case(1, owner="U0ALICE"),
        case(2),
        case(3, state=State.CONTACTED),
        case(4, state=State.CONTACTED, owner="U0BOB"),
        case(5, state=State.INVOICED, owner="U0BOB"),
        case(6, state=State.INVOICED),
        case(7, state=State.SNOOZED, owner="U0ALICE"),
        case(8, state=State.WAIVED),
        case(9, state=State.SNOOZED),
    ]
    invoiced_at = {5: NOW - timedelta(days=16)}

    groups = group_cases(cases, invoiced_at=invoiced_at, resolved=[case(10)])

    assert [c.id for c in groups.needs_owner] == [2, 3]  # new first, as in the listings
    assert [c.id for c in groups.in_progress] == [4, 1]
    assert [(c.id, at) for c, at in groups.invoiced] == [
        (6, cases[5].updated_at),  # when it was invoiced is not known: its last change
        (5, NOW - timedelta(days=16)),
    ]
    assert [c.id for c in groups.resolved] == [10]
    assert (groups.snoozed, groups.waived) == (2, 1)


# --- the digest --------------------------------------------------------------------------------


def digest_with(groups: CaseGroups, *, companies: int = 12) -> str:
    report = report_of([company(n) for n in range(1, companies + 1)])
    previous = snapshot_of(build_report([company(1)], fetched_at=FETCHED - timedelta(days=7)))
    message = render_digest(diff(report, previous, cases=groups), now=NOW)
    assert_message_fits(message)
    return texts(message)


def test_the_digest_lists_each_group_with_its_count_and_owners_as_mentions() -> None:
    closed, _ = resolve(case(11, owner="U0CAROL"), at=NOW - timedelta(days=2))
    invoiced_at = NOW - timedelta(days=16, hours=1)
    invoiced = case(5, state=State.INVOICED, owner="U0ALICE", invoiced_seats=6, invoice_ref="INV-7")
    groups = CaseGroups(
        needs_owner=(case(3, state=State.CONTACTED), case(2)),
        in_progress=(case(4, state=State.CONTACTED, owner="U0BOB"),),
        invoiced=(
            (invoiced, invoiced_at),
            (case(6, state=State.INVOICED), NOW - timedelta(hours=3)),
        ),
        resolved=(closed,),
        snoozed=2,
        waived=1,
    )
    body = digest_with(groups)

    assert (
        "*Needs an owner* (2)\n"
        "Company 00003 · over by 4 · contacted\n"
        "Company 00002 · over by 3 · new"
    ) in body
    assert "*In progress* (1)\nCompany 00004 · over by 5 · contacted · <@U0BOB>" in body
    assert (
        "*Invoiced, limit not raised yet* (2)\n"
        "Company 00005 · over by 6 · invoiced for 6 seats 16 days ago (INV-7) · <@U0ALICE>\n"
        "Company 00006 · over by 7 · invoiced today · no owner"
    ) in body
    assert (
        "*Resolved since last digest* (1)\n"
        "Company 00011 · back under its limit on 2025-03-08 · <@U0CAROL>"
    ) in body
    assert "Parked: 2 snoozed, 1 waived." in body
    assert sorted(mentions(body)) == ["U0ALICE", "U0BOB", "U0CAROL"]
    assert body.index("*Went over since last digest*") < body.index("*Needs an owner*")
    assert body.index("*Resolved since last digest*") < body.index("*Biggest overages*")


def test_long_groups_say_how_many_more_and_where_to_see_them() -> None:
    groups = CaseGroups(needs_owner=tuple(case(n) for n in range(30, 0, -1)))
    body = digest_with(groups)

    assert "*Needs an owner* (30)" in body
    assert "…and 20 more: `/overage cases` for all" in body


def test_an_owner_that_is_not_a_user_id_is_never_a_mention() -> None:
    owners = ["<!channel>", "U1|x", "U0ALICE> <!here", "@here", "U\u0130"]
    groups = CaseGroups(in_progress=tuple(case(n, owner=o) for n, o in enumerate(owners, 1)))
    body = digest_with(groups)

    assert mentions(body) == []
    assert "<!" not in body


@pytest.mark.parametrize("hostile", [h for h in HOSTILE if h])
def test_hostile_names_and_references_stay_inert_in_the_groups(hostile: str) -> None:
    hostile_case = case(5, state=State.INVOICED, owner="U0ALICE", invoice_ref=hostile)
    hostile_case = replace(hostile_case, company_name=hostile)
    groups = CaseGroups(needs_owner=(replace(case(2), company_name=hostile),))
    groups = replace(groups, invoiced=((hostile_case, NOW),))
    report = report_of([company(1)])
    message = render_digest(diff(report, None, cases=groups), now=NOW)
    assert_message_fits(message)

    for text in strings(message.blocks):
        assert "<!" not in text and "<http" not in text
        assert mentions(text) in ([], ["U0ALICE"])


def test_an_all_clear_digest_still_says_who_was_resolved() -> None:
    closed, _ = resolve(case(1, owner="U0ALICE"), at=NOW)
    previous = snapshot_of(build_report([company(1)], fetched_at=FETCHED - timedelta(days=7)))
    message = render_digest(
        diff(report_of([]), previous, cases=CaseGroups(resolved=(closed,))), now=NOW
    )

    assert "*Resolved since last digest* (1)\nCompany 00001 · back under" in texts(message)
    assert "Needs an owner" not in texts(message)


def test_the_groups_are_valid_block_kit() -> None:
    path = SUBSET / "block-kit.subset.schema.json"
    if not path.exists():
        pytest.skip(f"the shared reference is not at {path}")
    schema = json.loads(path.read_text())
    block = Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/block"})
    groups = CaseGroups(needs_owner=(case(2),), in_progress=(case(3, owner="U0BOB"),), snoozed=1)
    report = build_report([company(1)], fetched_at=FETCHED, prices=PLANS)
    message = render_digest(diff(report, None, cases=groups), now=NOW)
    for one in message.blocks:
        if one["type"] != "actions":  # the picker: test_schema extends the subset for it
            block.validate(one)
    assert "Needs an owner" in texts(message) and "True-up per plan" in texts(message)


# --- per-plan totals ---------------------------------------------------------------------------


def plan_companies() -> list[Company]:
    return [
        company(1, license_type="enterprise", users=140),  # 40 over
        company(2, license_type="Basic", users=130),  # 30 over
        company(3, license_type="Legacy", users=120),  # 20 over, no price
        company(4, license_type="Enterprise", limit=None, users=500),  # limit unknown
    ]


@pytest.mark.parametrize("surface", ["digest", "summary", "home"])
def test_the_true_up_per_plan_shows_each_plan_and_never_prices_one_at_zero(surface: str) -> None:
    report = build_report(plan_companies(), fetched_at=FETCHED, prices=PLANS)
    if surface == "digest":
        message = render_digest(diff(report, None), now=NOW)
    elif surface == "summary":
        message = render_summary(report, now=NOW)
    else:
        home = render_home(report, now=NOW, last_digest=None, next_digest=None)
        message = Message(text="home", blocks=home)
    assert_message_fits(message)
    body = texts(message)

    assert (
        "*True-up per plan*\n"
        "Basic · 1 company · 30 seats over · USD 0.0333 a seat · USD 1.00\n"
        "Enterprise · 2 companies · 40 seats over · USD 4.50 a seat · USD 180.00\n"
        "Legacy · 1 company · 20 seats over · no price set"
    ) in body
    assert "USD 0.00" not in body
    assert report.true_up == Decimal("0.0333") * 30 + Decimal("4.50") * 40  # 180.999
    assert "*Estimated monthly true-up*\nUSD 181.00" in body  # to the cent, as the workbook


def test_one_price_for_all_shows_no_plan_table() -> None:
    report = report_of(plan_companies(), price="2")

    assert "True-up per plan" not in texts(render_summary(report, now=NOW))
    assert "True-up per plan" not in texts(render_digest(diff(report, None), now=NOW))


def test_many_plans_are_counted_in_one_section_within_slacks_limits() -> None:
    companies = [company(n, license_type=f"{HOSTILE[n % len(HOSTILE)]} {n}") for n in range(300)]
    prices = Prices(plans=(("Enterprise", Decimal(1)),), rest=Decimal(2))
    report = build_report(companies, fetched_at=FETCHED, prices=prices)
    message = render_summary(report, now=NOW)
    assert_message_fits(message)
    section = next(t for t in strings(message.blocks) if t.startswith("*True-up per plan*"))

    assert "more plans: `/overage export` for all" in section
    assert "<!" not in section and "<@" not in section
    assert to_text(message)
