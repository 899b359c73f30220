"""The overage model: lenient parsing, who is over, by how much, ranking, totals, money."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import Settings
from bot.overage import (
    NO_LICENSE_TYPE,
    Company,
    PlanTotal,
    Prices,
    Report,
    build_report,
    parse_company,
    parse_limit,
    parse_time,
    shortfall_note,
)
from tests.companies import company

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def plan_company(
    cid: str,
    limit: int | None,
    users: int,
    *,
    name: str = "",
    limited: bool = True,
    plan: str = "",
) -> Company:
    return Company(
        company_id=cid,
        name=name or f"Company {cid}",
        limit=limit,
        target_users=users,
        limited=limited,
        license_type=plan,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("250", 250),
        (" 1,000 ", 1000),
        ("250.0", 250),
        (250, 250),
        (None, None),
        ("Unlimited", None),
        ("", None),
        ("n/a", None),
        ("-5", None),
        ("12.5", None),
        (True, None),
        ("NaN", None),
        ("Infinity", None),
        (250.0, 250),
        (float("nan"), None),
        (float("inf"), None),
        (-3, None),
        ("1,000,000", 1_000_000),
        ("1000.00", 1000),
        ("1,00", None),
        ("1,0000", None),
        ("+5", None),
        ("1_000", None),
        ("1e3", None),
        ("1e99999999", None),
        ("9" * 100_000, None),
        ("1" + "0" * 12, None),
        (10**40, None),
        (1e300, None),
        ("\u0661\u0662\u0663", None),  # digits, but not ASCII ones
        (["250"], None),
    ],
)
def test_parse_limit(raw: object, expected: int | None) -> None:
    assert parse_limit(raw) == expected


def test_a_user_count_that_is_not_a_plain_number_is_zero() -> None:
    raw = {"companyResourceId": "x", "numberOfUsers": "10", "targetUserCount": "1e99999999"}
    assert parse_company(raw).target_users == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-01-31T00:00:00Z", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T10:00:00.1234567Z", datetime(2026, 1, 31, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-01-31T10:00:00", datetime(2026, 1, 31, 10, tzinfo=UTC)),
        ("not a date", None),
        (None, None),
        (12345, None),
        ("2025-06-30T00:00:00.123+03:00", datetime(2025, 6, 29, 21, 0, 0, 123000, tzinfo=UTC)),
        ("2025-06-30T00:00:00+03:00", datetime(2025, 6, 29, 21, tzinfo=UTC)),
        ("2025-06-30T00:00:00.5-05:30", datetime(2025, 6, 30, 5, 30, 0, 500000, tzinfo=UTC)),
        ("2025-06-30t10:00:00.000000001z", datetime(2025, 6, 30, 10, tzinfo=UTC)),
        ("2025-06-30 10:00:00-00:00", datetime(2025, 6, 30, 10, tzinfo=UTC)),
        ("2016-12-31T23:59:60Z", datetime(2017, 1, 1, tzinfo=UTC)),  # a leap second
        ("2025-06-30", datetime(2025, 6, 30, tzinfo=UTC)),
        ("2025-06-30T00:00:00+24:00", None),
        ("2025-06-30T00:00:00+03:60", None),
        ("2025-13-01T00:00:00Z", None),
    ],
)
def test_parse_time(raw: object, expected: datetime | None) -> None:
    assert parse_time(raw) == expected


def test_parse_time_keeps_the_offset_it_was_sent_with() -> None:
    parsed = parse_time("2025-06-30T00:00:00.123+03:00")
    assert parsed is not None and parsed.utcoffset() == timedelta(hours=3)
    assert parsed.date().isoformat() == "2025-06-30"


@given(
    moment=st.datetimes(
        min_value=datetime(1900, 1, 2), max_value=datetime(2999, 12, 30), timezones=st.just(UTC)
    ),
    offset_minutes=st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1),
    digits=st.integers(min_value=0, max_value=15),
    extra=st.text(alphabet="0123456789", max_size=9),
    separator=st.sampled_from(["T", "t", " "]),
    utc_as=st.sampled_from(["Z", "z", "+00:00", "-00:00"]),
)
def test_any_rfc3339_date_time_is_the_instant_it_names(
    moment: datetime, offset_minutes: int, digits: int, extra: str, separator: str, utc_as: str
) -> None:
    """Written in any offset with a fraction of any length, a date-time reads as its instant
    (to the microsecond: further digits are cut) and keeps its offset."""
    kept = min(digits, 6)
    instant = moment.replace(microsecond=moment.microsecond // 10 ** (6 - kept) * 10 ** (6 - kept))
    local = instant.astimezone(timezone(timedelta(minutes=offset_minutes)))
    fraction = f"{local.microsecond:06d}"[:kept] + extra if digits > 6 else ""
    fraction = fraction or f"{local.microsecond:06d}"[:kept]
    hours, minutes = divmod(abs(offset_minutes), 60)
    zone = f"{'-' if offset_minutes < 0 else '+'}{hours:02d}:{minutes:02d}"
    if offset_minutes == 0:
        zone = utc_as
    text = f"{local:%Y-%m-%d}{separator}{local:%H:%M:%S}" + (f".{fraction}" if fraction else "")
    parsed = parse_time(text + zone)
    assert parsed == instant
    assert parsed is not None and parsed.utcoffset() == timedelta(minutes=offset_minutes)


def test_parse_company_reads_a_full_dto() -> None:
    raw: dict[str, Any] = {
        "companyName": '=HYPERLINK("http://x","y")',
        "companyResourceId": "c-1",
        "resellerName": "North",
        "industryName": "Retail",
        "licenseTypeName": "Full Suite",
        "isNumberOfUsersLimited": True,
        "numberOfUsers": "100",
        "targetUserCount": 130,
        "inactiveTargetUserCount": 4,
        "deletedTargetUserCount": 2,
        "monthlyActiveUserCount": 90,
        "licenceExpired": False,
        "licenseEndDate": "2027-01-01T00:00:00Z",
        "createTime": "2024-05-01T12:00:00Z",
        "tags": ["gold", None, "eu"],
    }
    parsed = parse_company(raw)
    assert parsed.name == raw["companyName"]
    assert parsed.limit == 100
    assert parsed.seats_over == 30
    assert parsed.tags == ("gold", "eu")
    assert parsed.license_end == datetime(2027, 1, 1, tzinfo=UTC)


def test_parse_company_survives_an_empty_dto() -> None:
    parsed = parse_company({})
    assert parsed.company_id == "" and parsed.name == ""
    assert parsed.limit is None and parsed.seats_over is None
    assert parsed.target_users == 0 and parsed.tags == ()


def test_an_unlimited_licence_is_never_over_whatever_the_filter_returned() -> None:
    report = build_report(
        [
            company(company_id="u1", limit=None, users=9000, limited=False),
            # a limit on file, but unlimited
            company(company_id="u2", limit=100, users=900, limited=False),
            company(company_id="a", limit=10, users=20),
            # limited, with a limit that cannot be read
            company(company_id="b", limit=None, users=5),
        ],
        fetched_at=NOW,
    )
    assert [o.company.company_id for o in report.overages] == ["a", "b"]
    assert (report.companies_over, report.seats_over, report.limit_unknown) == (2, 10, 1)
    assert report.rows_read == 4


def test_unlimited_license_has_no_readable_limit() -> None:
    raw = {
        "companyResourceId": "u",
        "isNumberOfUsersLimited": False,
        "numberOfUsers": "500",
        "targetUserCount": 900,
    }
    assert parse_company(raw).seats_over is None


def test_report_ranks_biggest_first_and_unknown_last() -> None:
    report = build_report(
        [
            company(company_id="a", limit=100, users=110),
            company(company_id="b", limit=None, users=500),
            company(company_id="c", limit=10, users=60),
            company(company_id="d", limit=50, users=50),
            company(company_id="e", limit=40, users=30),
        ],
        fetched_at=NOW,
    )
    assert [o.company.company_id for o in report.overages] == ["c", "a", "b"]
    assert report.companies_over == 3
    assert report.seats_over == 60
    assert report.limit_unknown == 1
    assert report.overages[0].ratio == pytest.approx(5.0)
    assert report.overages[-1].limit_unknown


def test_report_deduplicates_by_company_id_not_name() -> None:
    report = build_report(
        [
            company(company_id="a", limit=10, users=20, name="Same"),
            company(company_id="a", limit=10, users=20, name="Same"),
            company(company_id="b", limit=10, users=15, name="Same"),
        ],
        fetched_at=NOW,
    )
    assert report.companies_over == 2
    assert report.seats_over == 15


def test_rows_without_an_id_are_told_apart_by_name_reseller_and_creation() -> None:
    twin = company(company_id="", name="No ID Ltd", limit=10, users=20)
    again = company(company_id="", name="No ID Ltd", limit=10, users=20)  # the same row read twice
    grown = company(company_id="", name="No ID Ltd", limit=10, users=25)  # its users grew since
    other = company(company_id="", name="Other Co", limit=10, users=12)
    report = build_report([twin, again, grown, other], fetched_at=NOW)
    assert report.companies_over == 2
    assert report.seats_over == 10 + 2
    assert twin.ref != other.ref
    assert twin.ref == grown.ref and len(twin.ref) <= 128
    assert company(company_id="a", limit=10, users=20).ref == "a"


def test_find_counts_runs_of_whitespace_in_names_as_one_space() -> None:
    report = build_report(
        [
            company(company_id="a", limit=10, users=20, name="Acme \t  Corp"),
            company(company_id="b", limit=10, users=20, name="Acme"),
        ],
        fetched_at=NOW,
    )
    assert [o.company.company_id for o in report.find("acme corp")] == ["a"]


def test_true_up_is_exact_decimal_money() -> None:
    report = build_report(
        [
            company(company_id="a", limit=100, users=103),
            company(company_id="b", limit=10, users=11),
        ],
        fetched_at=NOW,
        seat_price=Decimal("0.10"),
        currency="EUR",
    )
    assert report.true_up == Decimal("0.40")
    assert report.overages[0].true_up == Decimal("0.30")
    assert build_report([company(company_id="a", limit=1, users=2)], fetched_at=NOW).true_up is None


def test_limit_zero_has_no_percentage_but_counts_seats() -> None:
    report = build_report([company(company_id="z", limit=0, users=7)], fetched_at=NOW)
    assert report.seats_over == 7
    assert report.overages[0].ratio is None


def test_find_is_case_insensitive_and_unicode_aware() -> None:
    report = build_report(
        [
            company(company_id="a", limit=1, users=5, name="İstanbul Lojistik"),
            company(company_id="b", limit=1, users=3, name="STRASSE GmbH"),
            company(company_id="c", limit=1, users=2, name="Acme"),
        ],
        fetched_at=NOW,
    )
    assert [o.company.company_id for o in report.find("straße")] == ["b"]
    assert [o.company.company_id for o in report.find("acm")] == ["c"]
    assert report.find("nothing") == ()
    assert report.by_id("a") is not None and report.by_id("zz") is None


def test_empty_report() -> None:
    report = build_report([], fetched_at=NOW, seat_price=Decimal(5))
    assert report.companies_over == 0 and report.seats_over == 0
    assert report.true_up == Decimal(0)


# --- prices per plan ---------------------------------------------------------------------------

PER_PLAN = Prices.configured(
    seat_price=None,
    seat_prices=Settings.from_env(
        {"SEAT_PRICES": "Enterprise=4.50,Professional=3.20,*=4.00"}
    ).seat_prices,
)
NAMED_ONLY = Prices(plans=(("Enterprise", Decimal("4.50")), ("Kurumsal Lisans", Decimal("1.05"))))


@pytest.mark.parametrize(
    ("prices", "license_type", "price", "plan"),
    [
        (PER_PLAN, "Enterprise", "4.50", "Enterprise"),
        (PER_PLAN, "enterprise", "4.50", "Enterprise"),
        (PER_PLAN, "  ENTERPRISE\t", "4.50", "Enterprise"),
        (PER_PLAN, "Professional", "3.20", "Professional"),
        (PER_PLAN, "Enterprise Plus", "4.00", "Enterprise Plus"),  # not Enterprise: the rest
        (PER_PLAN, "Basic  Tier", "4.00", "Basic Tier"),
        (PER_PLAN, "", "4.00", NO_LICENSE_TYPE),
        (PER_PLAN, "*", "4.00", "*"),
        (NAMED_ONLY, "kurumsal   lisans", "1.05", "Kurumsal Lisans"),
        (NAMED_ONLY, "KURUMSAL LİSANS", None, "KURUMSAL LİSANS"),  # dotted İ is another letter
        (NAMED_ONLY, "Basic", None, "Basic"),
        (NAMED_ONLY, "", None, NO_LICENSE_TYPE),
        (Prices.single(Decimal("2.5")), "Enterprise", "2.5", "Enterprise"),
        (Prices.single(Decimal("2.5")), "", "2.5", NO_LICENSE_TYPE),
    ],
)
def test_a_license_type_is_priced_by_its_plan_or_the_rest(
    prices: Prices | None, license_type: str, price: str | None, plan: str
) -> None:
    assert prices is not None
    assert prices.price_of(license_type) == (None if price is None else Decimal(price))
    assert prices.plan_of(license_type) == plan


@pytest.mark.parametrize(
    ("env", "by_plan", "rest"),
    [
        ({}, None, None),
        ({"SEAT_PRICE": "4.50"}, False, "4.50"),
        ({"SEAT_PRICES": "*=4.50"}, False, "4.50"),  # the one price, written the other way
        ({"SEAT_PRICES": "Enterprise=4.50"}, True, None),
        ({"SEAT_PRICES": "Enterprise=4.50,*=1"}, True, "1"),
    ],
)
def test_prices_are_configured_by_either_setting(
    env: dict[str, str], by_plan: bool | None, rest: str | None
) -> None:
    settings = Settings.from_env(env)
    prices = Prices.configured(seat_price=settings.seat_price, seat_prices=settings.seat_prices)

    if by_plan is None:
        assert prices is None
        return
    assert prices is not None
    assert prices.by_plan is by_plan
    assert prices.rest == (None if rest is None else Decimal(rest))


def test_each_true_up_follows_its_plan_and_the_plans_add_up_exactly() -> None:
    report = build_report(
        [
            plan_company("e1", 100, 103, plan="Enterprise"),
            plan_company("e2", 10, 11, plan="enterprise "),
            plan_company("p1", 10, 17, plan="Professional"),
            plan_company("b1", 10, 12, plan="Basic"),
            plan_company("b2", 10, 11, plan="BASIC"),
            plan_company("n1", 10, 19, plan=""),
            plan_company("u1", None, 50, plan="Professional"),  # limit unknown: no seats to price
        ],
        fetched_at=NOW,
        prices=PER_PLAN,
        currency="EUR",
    )

    assert {o.company.company_id: o.true_up for o in report.overages} == {
        "e1": Decimal("13.50"),
        "e2": Decimal("4.50"),
        "p1": Decimal("22.40"),
        "b1": Decimal("8.00"),
        "b2": Decimal("4.00"),
        "n1": Decimal("36.00"),
        "u1": None,
    }
    assert report.plan_totals() == (
        PlanTotal(NO_LICENSE_TYPE, Decimal("4.00"), 1, 9, Decimal("36.00")),
        PlanTotal("Basic", Decimal("4.00"), 2, 3, Decimal("12.00")),
        PlanTotal("Enterprise", Decimal("4.50"), 2, 4, Decimal("18.00")),
        PlanTotal("Professional", Decimal("3.20"), 2, 7, Decimal("22.40")),
    )
    assert report.true_up == Decimal("88.40")
    assert report.seat_price is None  # no one price
    assert report.unpriced == ()


def test_a_company_whose_plan_has_no_price_is_listed_never_priced_at_zero() -> None:
    report = build_report(
        [
            plan_company("e", 10, 12, plan="Enterprise"),
            plan_company("b", 10, 30, plan="Basic"),
            plan_company("x", None, 5, plan="Basic"),
            plan_company("n", 10, 11),
        ],
        fetched_at=NOW,
        prices=NAMED_ONLY,
    )

    assert [o.company.company_id for o in report.unpriced] == ["b", "n", "x"]
    assert all(o.true_up is None for o in report.unpriced)
    assert report.plan_totals() == (
        PlanTotal("Enterprise", Decimal("4.50"), 1, 2, Decimal("9.00")),
        PlanTotal(NO_LICENSE_TYPE, None, 1, 1, None),
        PlanTotal("Basic", None, 2, 20, None),
    )
    assert report.true_up == Decimal("9.00")  # of the priced only


def test_nothing_priced_is_a_true_up_of_nothing_with_every_company_listed() -> None:
    report = build_report(
        [plan_company("b", 10, 30, plan="Basic")], fetched_at=NOW, prices=NAMED_ONLY
    )

    assert report.true_up == Decimal(0)
    assert [o.company.company_id for o in report.unpriced] == ["b"]
    assert report.plan_totals() == (PlanTotal("Basic", None, 1, 20, None),)


def test_one_price_reads_as_before_with_totals_per_license_type() -> None:
    rows = [plan_company("e", 10, 13, plan="Enterprise"), plan_company("b", 10, 12, plan="Basic")]
    one = build_report(rows, fetched_at=NOW, seat_price=Decimal("0.10"))
    direct = Report(overages=one.overages, fetched_at=NOW, seat_price=Decimal("0.10"))

    for report in (one, direct):
        assert report.seat_price == Decimal("0.10")
        assert report.prices == Prices.single(Decimal("0.10"))
        assert report.true_up == Decimal("0.50")
        assert [(t.plan, t.true_up) for t in report.plan_totals()] == [
            ("Basic", Decimal("0.20")),
            ("Enterprise", Decimal("0.30")),
        ]
        assert report.unpriced == ()
    assert build_report(rows, fetched_at=NOW).plan_totals() == ()
    assert build_report(rows, fetched_at=NOW).unpriced == ()


def test_one_price_and_prices_per_plan_are_not_given_together() -> None:
    with pytest.raises(ValueError, match="not both"):
        build_report([], fetched_at=NOW, seat_price=Decimal(1), prices=PER_PLAN)
    with pytest.raises(ValueError, match="not two different ones"):
        Report(overages=(), fetched_at=NOW, seat_price=Decimal(1), prices=PER_PLAN)
    assert Report(
        overages=(), fetched_at=NOW, seat_price=Decimal(1), prices=Prices.single(Decimal(1))
    ).true_up == Decimal(0)


_PLANS = ["Enterprise", "enterprise", "Professional", "Basic", "", "=SUM(A1)", "<!here>"]


@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(_PLANS),
            st.one_of(st.none(), st.integers(0, 10**6)),
            st.integers(0, 2 * 10**6),
        ),
        max_size=40,
    ),
    prices=st.dictionaries(
        st.sampled_from(["Enterprise", "Professional", "*"]),
        st.decimals(min_value=0, max_value=10**4, places=3, allow_nan=False),
        max_size=3,
    ),
)
def test_the_plans_add_up_to_the_total_exactly_whatever_the_rows(
    rows: list[tuple[str, int | None, int]], prices: dict[str, Decimal]
) -> None:
    companies = [
        plan_company(f"c{i}", limit, users, plan=plan)
        for i, (plan, limit, users) in enumerate(rows)
    ]
    configured = Prices.configured(seat_price=None, seat_prices=prices)
    report = build_report(companies, fetched_at=NOW, prices=configured)
    totals = report.plan_totals()

    if configured is None:
        assert report.true_up is None and totals == () and report.unpriced == ()
        return
    priced = [o.true_up for o in report.overages if o.true_up is not None]
    assert report.true_up == sum(priced, Decimal(0))
    assert report.true_up == sum((t.true_up for t in totals if t.true_up is not None), Decimal(0))
    assert sum(t.companies for t in totals) == report.companies_over
    assert sum(t.seats_over for t in totals) == report.seats_over
    assert len({t.plan.casefold() for t in totals}) == len(totals)
    unpriced_plans = {t.plan.casefold() for t in totals if t.price is None}
    unpriced = {configured.plan_of(o.company.license_type).casefold() for o in report.unpriced}
    assert unpriced == unpriced_plans


# --- complete or say so ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform_count", "rows", "note"),
    [
        (141, 139, "Keepnet counts 141 companies over their limit; 139 could be read."),
        (1_141, 1_139, "Keepnet counts 1,141 companies over their limit; 1,139 could be read."),
        (1, 0, "Keepnet counts 1 company over its limit; none could be read."),
        (3, 3, None),
        (2, 3, None),  # the list grew while it was read: nothing counted is missing
        (None, 3, None),  # the platform sent no count
    ],
)
def test_shortfall_note_compares_the_rows_read_with_the_platform_count(
    platform_count: int | None, rows: int, note: str | None
) -> None:
    companies = [company(company_id=f"c{i}", limit=10, users=11) for i in range(rows)]
    report = build_report(companies, fetched_at=NOW, platform_count=platform_count)
    assert report.platform_count == platform_count
    assert shortfall_note(report) == note


def test_rows_we_leave_out_ourselves_make_no_shortfall() -> None:
    rows = [
        company(company_id="over", limit=10, users=20),
        company(company_id="unlimited", limit=None, users=900, limited=False),
        # flagged, but its limit shows it is not over
        company(company_id="stale flag", limit=10, users=5),
        company(company_id="over", limit=10, users=20),  # the same row on two pages
    ]
    report = build_report(rows, fetched_at=NOW, platform_count=3)
    assert report.companies_over == 1 and report.rows_read == 3
    assert shortfall_note(report) is None
    assert shortfall_note(build_report(rows, fetched_at=NOW, platform_count=4)) == (
        "Keepnet counts 4 companies over their limit; 3 could be read."
    )
