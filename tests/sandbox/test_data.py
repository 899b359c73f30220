"""The sandbox's generated companies: the same for a seed, shaped like the platform's rows, moving
over their limit and back."""

from __future__ import annotations

from bot.sandbox.data import HOSTILE_NAMES, advance, generate_companies, is_flagged, is_over
from tests.sandbox.conftest import DTO_KEYS


def test_generate_companies_is_deterministic_per_seed() -> None:
    first, again = generate_companies(200, seed=5), generate_companies(200, seed=5)
    other = generate_companies(200, seed=6)
    assert first == again and first != other
    assert len({c["companyResourceId"] for c in first}) == 200
    assert sum(1 for c in first if is_flagged(c)) == 30  # 15 % by default


def test_generated_rows_look_like_the_platform() -> None:
    rows = generate_companies(120, seed=2, over_limit=32)
    assert all(set(r) == DTO_KEYS for r in rows)
    assert all(r["numberOfUsers"] is None or isinstance(r["numberOfUsers"], str) for r in rows)
    assert all(r["createTime"].endswith("Z") for r in rows)
    assert any(not r["isNumberOfUsersLimited"] for r in rows)
    assert any(r["tags"] for r in rows) and any(not r["tags"] for r in rows)
    assert sum(1 for r in rows if is_flagged(r)) == 32
    assert set(HOSTILE_NAMES) <= {r["companyName"] for r in rows if is_over(r)}
    assert len(HOSTILE_NAMES[8]) == 300


def test_advance_moves_companies_over_and_back() -> None:
    week_one = generate_companies(300, seed=4)
    week_two = advance(week_one, seed=2)
    assert advance(week_one, seed=2) == week_two
    before = {c["companyResourceId"] for c in week_one if is_over(c)}
    after = {c["companyResourceId"] for c in week_two if is_over(c)}
    assert after - before and before - after
    names = {c["companyResourceId"]: c["companyName"] for c in week_one}
    renamed = [c for c in week_two if names[c["companyResourceId"]] != c["companyName"]]
    assert len(renamed) == 1 and is_over(renamed[0])
    assert week_one == generate_companies(300, seed=4)  # the input is left as it was
