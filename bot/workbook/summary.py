"""The "Summary" sheet: the facts of the report, the true-up per plan, the biggest
overages and the trend of the last digests, as tables and charts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from xlsxwriter import Workbook
from xlsxwriter.worksheet import Worksheet

from bot.overage import Overage, PlanTotal, Report, shortfall_note
from bot.workbook.cells import _put, _Styles
from bot.workbook.formats import _COUNT, _DATE, _DATETIME, _THOUSANDS
from bot.workbook.rows import NO_PRICE, Field, _by_plan, _clean, _local

SUMMARY_SHEET = "Summary"
TOP_COUNT = 10

# one summary row: (value, number format, bold) per cell; an empty list is an empty row
_Row = list[tuple[Field, str | None, bool]]


def _write_summary(
    book: Workbook,
    ws: Worksheet,
    report: Report,
    styles: _Styles,
    *,
    generated_at: datetime,
    zone: ZoneInfo,
    filter_text: str,
    trend: Sequence[tuple[datetime, int]],
) -> None:
    # priced per plan, the plan table takes a fourth column and the charts move one over
    widths, charts_at = ((34, 22, 18, 22, 3), "F") if _by_plan(report) else ((34, 22, 18, 4), "E")
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 1)  # the figures and both charts on one printed page
    rows: list[_Row] = [[("License overage", None, True)]]
    note = shortfall_note(report)
    if note:  # right under the title: the list below is not the whole list
        rows.append([(note, None, True)])
    rows.append([])
    rows += _facts(report, styles, generated_at=generated_at, zone=zone, filter_text=filter_text)
    rows.append([])
    if _by_plan(report):
        rows += _plan_table(report, styles)
        rows.append([])
    top_start = len(rows) + 1
    top = _biggest(report)
    rows += _top_table(top)
    trend_start = len(rows) + 2
    if len(trend) >= 2:
        rows.append([])
        rows += _trend_table(trend, zone)
    for index, cells in enumerate(rows):
        for col, (value, fmt, bold) in enumerate(cells):
            _put(ws, index, col, value, styles.get(fmt, bold=bold))
    _add_top_chart(book, ws, top, header_row=top_start, column=charts_at)
    if len(trend) >= 2:
        _add_trend_chart(book, ws, trend, zone, header_row=trend_start, column=charts_at)


def _facts(
    report: Report, styles: _Styles, *, generated_at: datetime, zone: ZoneInfo, filter_text: str
) -> list[_Row]:
    zone_name = _clean(str(zone.key))
    facts: list[tuple[str, Field, str | None]] = [
        ("Companies over limit", report.companies_over, _THOUSANDS),
        ("of which limit unknown", report.limit_unknown, _THOUSANDS),
        ("Seats over in total", report.seats_over, _THOUSANDS),
    ]
    if report.priced:
        facts.append(("Est. monthly true-up", report.true_up, styles.money))
    if report.seat_price is not None:
        facts.append(("Seat price per month", report.seat_price, styles.money))
    if report.unpriced:
        facts.append(("of which no price set", len(report.unpriced), _COUNT))
    rows: list[_Row] = [[(label, None, False), (value, fmt, False)] for label, value, fmt in facts]
    rows.append(_moment_row("Generated at", _local(generated_at, zone), zone_name))
    rows.append(_moment_row("Data fetched at", _local(report.fetched_at, zone), zone_name))
    rows.append([("Source", None, False), (_clean(report.source) or "not recorded", None, False)])
    rows.append([("Filter", None, False), (_clean(filter_text), None, False)])
    return rows


def _plan_table(report: Report, styles: _Styles) -> list[_Row]:
    """The true-up per plan and in all; a plan with no price shows none, and NO_PRICE."""
    header: _Row = [
        (label, None, True)
        for label in ("True-up per plan", "Seat price per month", "Seats over", "True-up")
    ]
    rows = [header] + [_plan_row(total, styles) for total in report.plan_totals()]
    rows.append(
        [
            ("All plans", None, True),
            (None, None, True),
            (report.seats_over, _THOUSANDS, True),
            (report.true_up, styles.money, True),
        ]
    )
    return rows


def _plan_row(total: PlanTotal, styles: _Styles) -> _Row:
    return [
        (_clean(total.plan), None, False),
        (total.price, styles.money, False),
        (total.seats_over, _THOUSANDS, False),
        (NO_PRICE, None, False) if total.true_up is None else (total.true_up, styles.money, False),
    ]


def _moment_row(label: str, moment: datetime | None, zone_name: str) -> _Row:
    return [(label, None, False), (moment, _DATETIME, False), (zone_name, None, False)]


def _biggest(report: Report) -> list[Overage]:
    """The TOP_COUNT biggest known overages: the report is sorted by overage already."""
    return [o for o in report.overages if o.seats_over is not None][:TOP_COUNT]


def _top_table(top: list[Overage]) -> list[_Row]:
    header: _Row = [(f"Biggest overages (top {TOP_COUNT})", None, True), ("Seats over", None, True)]
    return [header] + [
        [(_clean(o.company.name), None, False), (o.seats_over, _THOUSANDS, False)] for o in top
    ]


def _trend_table(trend: Sequence[tuple[datetime, int]], zone: ZoneInfo) -> list[_Row]:
    header: _Row = [("Digest date", None, True), ("Seats over", None, True)]
    return [header] + [
        [(_local(moment, zone), _DATE, False), (seats, _THOUSANDS, False)]
        for moment, seats in trend
    ]


def _summary_range(column: str, first: int, last: int) -> str:
    """A range on the Summary sheet, rows one-based, as a chart formula."""
    return f"='{SUMMARY_SHEET}'!${column}${first}:${column}${last}"


def _add_top_chart(
    book: Workbook, ws: Worksheet, top: list[Overage], *, header_row: int, column: str
) -> None:
    if not top:
        return
    chart = book.add_chart({"type": "bar"})  # horizontal bars: long company names stay readable
    if chart is None:
        raise RuntimeError("xlsxwriter has no bar chart")
    last = header_row + len(top)
    chart.add_series(
        {
            "name": f"='{SUMMARY_SHEET}'!$B${header_row}",
            "categories": _summary_range("A", header_row + 1, last),
            "values": _summary_range("B", header_row + 1, last),
            # the cells' values, as the chart's cache: rows streamed to disk cannot be read
            # back, and text categories make the names a string reference, not a numeric one
            "name_data": ["Seats over"],
            "categories_data": [_clean(o.company.name) for o in top],
            "values_data": [o.seats_over for o in top],
        }
    )
    chart.set_title({"name": "Biggest overages (seats over)"})
    chart.set_legend({"none": True})
    # in a bar chart the y axis holds the categories: biggest at the top, as in the table,
    # with the seat axis kept at the bottom
    chart.set_y_axis({"reverse": True, "crossing": "max"})
    chart.set_size({"width": _cm_to_px(18), "height": _cm_to_px(9)})
    ws.insert_chart(f"{column}3", chart)


def _add_trend_chart(
    book: Workbook,
    ws: Worksheet,
    trend: Sequence[tuple[datetime, int]],
    zone: ZoneInfo,
    *,
    header_row: int,
    column: str,
) -> None:
    chart = book.add_chart({"type": "line"})
    if chart is None:
        raise RuntimeError("xlsxwriter has no line chart")
    last = header_row + len(trend)
    chart.add_series(
        {
            "name": f"='{SUMMARY_SHEET}'!$B${header_row}",
            "categories": _summary_range("A", header_row + 1, last),
            "values": _summary_range("B", header_row + 1, last),
            # the chart's cache, as for the top chart: dates as Excel serial numbers
            "name_data": ["Seats over"],
            "categories_data": [_excel_serial(m, zone) for m, _ in trend],
            "values_data": [seats for _, seats in trend],
        }
    )
    chart.set_title({"name": "Seats over, last digests"})
    chart.set_legend({"none": True})
    chart.set_x_axis({"num_format": _DATE, "text_axis": True})  # one tick per digest
    chart.set_size({"width": _cm_to_px(18), "height": _cm_to_px(7.5)})
    ws.insert_chart(f"{column}22", chart)


def _excel_serial(moment: datetime, zone: ZoneInfo) -> float:
    """The wall-clock time in zone as Excel stores it: days since 1899-12-30."""
    local = _local(moment, zone)
    return 0.0 if local is None else (local - _EXCEL_EPOCH).total_seconds() / 86400


_EXCEL_EPOCH = datetime(1899, 12, 30)


def _cm_to_px(cm: float) -> int:
    return round(cm / 2.54 * 96)  # Excel's 96 pixels to the inch
