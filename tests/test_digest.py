"""Digest deltas: went over, came back, grew, shrank, renamed (keyed by ID), first, all clear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.digest import diff, snapshot_of
from bot.overage import build_report
from bot.render_slack import render_digest, to_text
from tests.companies import company

WEEK1 = datetime(2026, 11, 16, 9, tzinfo=UTC)
WEEK2 = WEEK1 + timedelta(days=7)


def report(rows: list[tuple[str, str, int | None, int]], when: datetime = WEEK2):  # type: ignore[no-untyped-def]
    companies = [company(company_id=i, name=n, limit=lim, users=u) for i, n, lim, u in rows]
    return build_report(companies, fetched_at=when)


def test_first_digest_has_nothing_to_compare() -> None:
    result = diff(report([("a", "A", 10, 20)]), None)
    assert result.first
    assert result.companies_delta is None and result.seats_delta is None
    assert result.went_over == () and result.came_back == ()


def test_deltas_between_two_weeks() -> None:
    before = snapshot_of(
        report(
            [
                ("a", "Alpha", 10, 20),
                ("b", "Beta", 10, 15),
                ("c", "Gamma", 10, 30),
                ("d", "Delta", 10, 12),
            ],
            WEEK1,
        )
    )
    now = report(
        [
            ("a", "Alpha", 10, 25),
            ("b", "Beta", 10, 12),
            ("c", "Gamma renamed", 10, 30),
            ("e", "Epsilon", 5, 9),
        ]
    )
    result = diff(now, before)
    assert [o.company.company_id for o in result.went_over] == ["e"]
    assert [r.company_id for r in result.came_back] == ["d"]
    assert [(c.overage.company.company_id, c.delta) for c in result.grew] == [("a", 5)]
    assert [(c.overage.company.company_id, c.delta) for c in result.shrank] == [("b", -3)]
    # renamed but the same ID: neither went over nor came back
    assert all(o.company.company_id != "c" for o in result.went_over)
    assert result.companies_delta == 0
    assert result.seats_delta == (15 + 2 + 20 + 4) - (10 + 5 + 20 + 2)


def test_all_clear_week_lists_who_came_back() -> None:
    before = snapshot_of(report([("a", "Alpha", 10, 20)], WEEK1))
    result = diff(report([]), before)
    assert result.all_clear
    assert [r.company_id for r in result.came_back] == ["a"]
    assert result.seats_delta == -10


def test_limit_unknown_rows_are_kept_but_add_no_seats() -> None:
    before = snapshot_of(report([("a", "Alpha", None, 20)], WEEK1))
    assert before.seats_over == 0 and before.companies_over == 1
    result = diff(report([("a", "Alpha", 10, 20)]), before)
    assert result.seats_delta == 10
    assert result.grew == () and result.shrank == ()


def test_a_limit_becoming_unknown_or_readable_is_neither_growth_nor_shrinkage() -> None:
    before = snapshot_of(
        report([("a", "Alpha", 10, 30), ("b", "Beta", None, 40), ("c", "Gamma", 10, 15)], WEEK1)
    )
    now = report([("a", "Alpha", None, 30), ("b", "Beta", 10, 45), ("c", "Gamma", 10, 12)])

    result = diff(now, before)

    assert [c.overage.company.company_id for c in result.limit_now_unknown] == ["a"]
    assert [c.overage.company.company_id for c in result.limit_known_again] == ["b"]
    assert [(c.overage.company.company_id, c.delta) for c in result.shrank] == [("c", -3)]
    assert result.grew == ()
    body = to_text(render_digest(result, now=WEEK2))
    assert "*Shrank* (1)\nGamma · over by 5 → 2 (▼ −3)\n" in body
    assert "*Limit now unknown* (1)\nAlpha · was over by 20 → limit unknown (30 users)" in body
    assert "*Limit readable again* (1)\nBeta · limit unknown → over by 35" in body
    assert "Grew" not in body


def test_trend_keeps_the_last_eight() -> None:
    from bot.digest import TrendPoint

    history = tuple(TrendPoint(WEEK1 - timedelta(days=7 * i), 1, i) for i in range(10, 0, -1))
    result = diff(report([("a", "A", 1, 3)]), snapshot_of(report([], WEEK1)), history=history)
    assert len(result.trend) == 8
    assert result.trend[-1].seats_over == 2
    assert result.trend[-1].taken_at == WEEK2


def test_a_company_without_an_id_is_followed_from_week_to_week_by_its_name() -> None:
    before = snapshot_of(report([("", "Nameless Ltd", 10, 20), ("", "Other Ltd", 10, 12)], WEEK1))
    result = diff(report([("", "Nameless Ltd", 10, 26), ("", "Other Ltd", 10, 12)]), before)
    assert result.went_over == () and result.came_back == ()
    assert [(c.overage.company.name, c.delta) for c in result.grew] == [("Nameless Ltd", 6)]
    assert all(len(row.company_id) <= 128 for row in before.rows)
