"""The company picker: an external select on every surface, its options served by what the
person types."""

from __future__ import annotations

from bot.digest import diff
from bot.overage import Company
from bot.render_slack import (
    DETAILS_SELECT,
    PICKER_MIN_QUERY,
    render_alert,
    render_digest,
    render_find,
    render_options,
    render_summary,
    render_top,
)
from tests.render_slack.conftest import NOW, assert_options_fit, company, report_of


def test_every_surface_carries_the_picker_without_options() -> None:
    report = report_of([company(n) for n in range(150)])
    messages = [
        render_summary(report, now=NOW),
        render_top(report, 100, now=NOW),
        render_find(report, "company", now=NOW),
        render_digest(diff(report, None), now=NOW),
        render_alert(report.overages[:3], report=report, now=NOW),
        render_alert(report.overages[:1], report=report, now=NOW),
    ]
    for message in messages:
        elements = [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
        [picker] = [e for e in elements if e["action_id"] == DETAILS_SELECT]
        assert picker["type"] == "external_select"
        assert picker["min_query_length"] == PICKER_MIN_QUERY == 0
        assert picker["placeholder"]["text"] == "Details of a company…"
        assert "options" not in picker


def test_options_match_what_is_typed_in_any_case_biggest_first() -> None:
    names = ["Highland Glass", "Baltic GLASS AG", "Glassworks  Ltd", "Harbor Steel"]
    report = report_of([company(n, name=name, users=101 + n) for n, name in enumerate(names)])
    options = render_options(report, "  glASS ")
    assert [o["text"]["text"] for o in options] == [
        "Glassworks Ltd (+3)",
        "Baltic GLASS AG (+2)",
        "Highland Glass (+1)",
    ]
    assert [o["value"] for o in options] == ["c00002", "c00001", "c00000"]
    assert render_options(report, "GLASSWORKS ltd") == options[:1]  # runs of spaces are one
    assert render_options(report, "nothing like it") == []


def test_with_nothing_typed_the_biggest_hundred_are_offered() -> None:
    report = report_of([company(n, users=101 + n) for n in range(250)])
    options = render_options(report, "")
    assert_options_fit(options)
    assert len(options) == 100
    assert [o["value"] for o in options[:2]] == ["c00249", "c00248"]


def test_a_company_without_a_usable_id_is_not_offered() -> None:
    no_id = Company(company_id="", name="No ID Co", limit=10, target_users=20)
    long_id = Company(company_id="x" * 151, name="Long ID Co", limit=10, target_users=20)
    report = report_of([no_id, long_id, company(1, name="Fine Co")])
    assert [o["text"]["text"] for o in render_options(report, "co")] == ["Fine Co (+2)"]
    assert render_find(report_of([no_id]), "no id", now=NOW).blocks[-1]["type"] != "actions"


def test_options_show_names_as_themselves_and_never_as_markup() -> None:
    names = ["*Ivy* _League_", ":rotating_light: Alarm Co", "<!channel> & Co", "x" * 200]
    report = report_of([company(n, name=name) for n, name in enumerate(names)])
    options = render_options(report, "")
    assert_options_fit(options)
    texts = [o["text"]["text"] for o in options]
    assert "*Ivy* _League_ (+1)" in texts
    assert any(t.startswith(":rotating_light: Alarm Co") for t in texts)
    assert any(t.startswith("‹!channel› & Co") for t in texts)
    assert all(o["text"]["emoji"] is False for o in options)  # no :code: becomes an emoji
