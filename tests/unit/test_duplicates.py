"""The duplicate rule on its own: party, similarity, window and threshold, with ``now`` given."""

from datetime import UTC, datetime, timedelta

import pytest

from services.orders.duplicates import (
    DuplicateRule,
    Earlier,
    Party,
    find_duplicates,
    normalise_name,
    normalise_phone,
    same_party,
    similarity,
)

NOW = datetime(2026, 3, 20, 8, 0, tzinfo=UTC)
ROAD = "企业门前道路破损严重，影响货车通行，请尽快修复"
ROAD_AGAIN = "企业门前的道路破损严重，货车通行受影响，请尽快修复！"
SOCIAL = "咨询社保补贴申报流程和所需材料"


def earlier(i=1, *, party=Party(enterprise_id=7), text=ROAD, days_ago=3, state="processing"):
    return Earlier(id=i, number=f"BC-20260317-{i:04d}", party=party, text=text,
                   created_at=NOW - timedelta(days=days_ago), state=state)


def test_similarity_of_chinese_paraphrase_is_high_and_of_other_matters_low():
    assert similarity(ROAD, ROAD_AGAIN) >= 0.5
    assert similarity(ROAD, SOCIAL) < 0.1
    assert similarity(ROAD, ROAD) == 1.0


def test_similarity_ignores_punctuation_width_and_case():
    assert similarity("ＡＢＣ公司停电了！", "abc公司停电了") == 1.0
    assert similarity("", ROAD) == 0.0
    assert similarity("。。。", ROAD) == 0.0


def test_single_character_texts_compare_as_characters():
    assert similarity("电", "电") == 1.0
    assert similarity("电", "水") == 0.0


@pytest.mark.parametrize(("a", "b", "same"), [
    (Party(enterprise_id=1), Party(enterprise_id=1, phone="1"), True),
    (Party(enterprise_id=1, uscc="X"), Party(enterprise_id=2, uscc="X"), False),  # ids decide when both known
    (Party(uscc="91120113mA05 abcd1x"), Party(enterprise_id=3, uscc="91120113MA05ABCD1X"), True),
    (Party(uscc="91120113MA05ABCD1X"), Party(uscc="91120113MA05ABCD2Y", name="同名"), False),
    (Party(name="天津某某科技有限公司"), Party(enterprise_id=3, name="天津某某科技公司"), True),
    (Party(name="天津某某科技有限公司"), Party(name="天津另一科技有限公司"), False),
    (Party(phone="+86 138-0000-1234"), Party(phone="13800001234"), True),
    (Party(phone="13800001234"), Party(phone="13800005678"), False),
    (Party(phone="123"), Party(phone="123"), False),  # too short to identify a caller
    (Party(), Party(), False),
])
def test_same_party(a, b, same):
    assert same_party(a, b) is same
    assert same_party(b, a) is same


def test_normalisers():
    assert normalise_name("天津 某某（科技）股份有限公司") == "天津某某科技"
    assert normalise_name("公司") == "公司"
    assert normalise_phone("0086 13800001234") == "13800001234"
    assert normalise_phone("022-86912345") == "02286912345"


def test_finds_the_earlier_order_of_the_same_enterprise_within_the_window():
    found = find_duplicates(Party(enterprise_id=7), ROAD_AGAIN, [earlier()], now=NOW)
    assert [m.earlier.number for m in found] == ["BC-20260317-0001"]
    assert 50 <= found[0].percent <= 100


def test_other_enterprise_other_matter_and_old_orders_are_not_duplicates():
    items = [
        earlier(1, party=Party(enterprise_id=8)),
        earlier(2, text=SOCIAL),
        earlier(3, days_ago=31),
        earlier(4, days_ago=-1),  # after now: not an earlier order
    ]
    assert find_duplicates(Party(enterprise_id=7), ROAD_AGAIN, items, now=NOW) == []


def test_window_and_threshold_come_from_the_rule():
    items = [earlier(1, days_ago=31)]
    assert find_duplicates(Party(enterprise_id=7), ROAD, items, now=NOW, rule=DuplicateRule(window_days=31))
    assert not find_duplicates(Party(enterprise_id=7), ROAD, items, now=NOW, rule=DuplicateRule(window_days=30))
    loose = "企业门前道路积水"
    assert not find_duplicates(Party(enterprise_id=7), loose, [earlier()], now=NOW)
    assert find_duplicates(Party(enterprise_id=7), loose, [earlier()], now=NOW,
                           rule=DuplicateRule(threshold_percent=10))


def test_boundary_of_the_window_is_inclusive():
    item = earlier(1, days_ago=30)
    assert find_duplicates(Party(enterprise_id=7), ROAD, [item], now=NOW)


def test_most_similar_then_most_recent_first():
    items = [earlier(1, text=ROAD_AGAIN, days_ago=5), earlier(2, text=ROAD, days_ago=10),
             earlier(3, text=ROAD, days_ago=2)]
    found = find_duplicates(Party(enterprise_id=7), ROAD, items, now=NOW)
    assert [m.earlier.id for m in found] == [3, 2, 1]


def test_a_caller_without_enterprise_matches_by_phone():
    caller = Party(phone="13800001234")
    items = [earlier(1, party=Party(enterprise_id=9, phone="138 0000 1234"))]
    assert find_duplicates(caller, ROAD_AGAIN, items, now=NOW)
