"""Pure rules: the GB 32100 check character and the 2017 size bands."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.registry import size_band, uscc
from tests.factories import make_uscc

# Codes as printed on well-known companies' business licences.
KNOWN_GOOD = ["9144030071526726XG", "914403001922038216", "91110108551385082Q", "91120000103071899G"]


@pytest.mark.parametrize("code", KNOWN_GOOD)
def test_known_codes_pass(code):
    assert uscc.problem(code) is None


def test_check_char_matches_the_formula():
    body = "91120113MA05JXYW1"
    total = sum(uscc.ALPHABET.index(c) * w for c, w in zip(body, uscc.WEIGHTS, strict=True))
    assert uscc.check_char(body) == uscc.ALPHABET[(31 - total % 31) % 31]


def test_wrong_check_char_is_reported():
    good = make_uscc(4242)
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    assert uscc.problem(wrong) == "统一社会信用代码校验位错误"
    assert not uscc.is_valid(wrong)


def test_length_and_alphabet_problems():
    assert "18 位" in uscc.problem("9112011300000000")
    assert "不允许的字符" in uscc.problem("91120113MA05JXYZ1I")  # I is not in the alphabet


def test_normalize_full_width_spaces_and_case():
    good = make_uscc(77)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in good.lower())
    assert uscc.normalize(f"  {full_width[:6]} {full_width[6:]}\u3000") == good
    assert uscc.normalize(None) == ""
    assert uscc.normalize(120113600012345.0) == "120113600012345"


def test_entity_type_from_position_two():
    assert uscc.entity_type(make_uscc(1, "1")) == "enterprise"
    assert uscc.entity_type(make_uscc(2, "2")) == "individual"
    assert uscc.entity_type(make_uscc(3, "3")) == "cooperative"
    assert uscc.entity_type("12120113" + "0" * 10) is None  # another authority


def test_registration_numbers_are_recognised():
    assert uscc.looks_like_registration_number("120113600012345")
    assert not uscc.looks_like_registration_number(make_uscc(5))


# --- size bands -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("code", "x", "y", "z", "band"),
    [
        ("C3311", 1200, 50000, None, "大"),
        ("C3311", 1200, 1500, None, "小"),  # large by staff, small by revenue: every bound must hold
        ("C3311", 350, 2500, None, "中"),
        ("C3311", 25, 400, None, "小"),
        ("C3311", 19, 100000, None, "微"),  # micro needs only one indicator
        ("C3311", 500, None, None, None),  # revenue unknown: not decidable
        ("C3311", 5, None, None, "微"),  # ... unless one known indicator is already micro
        ("5121", 25, 6000, None, "中"),  # wholesale
        ("F5211", 12, 150, None, "小"),  # retail
        ("E4811", None, 7000, 6000, "中"),  # construction: revenue and assets
        ("K7010", None, 300000, 12000, "大"),  # real-estate development
        ("K7020", 150, 600, None, "小"),  # property management
        ("L7212", 50, None, 200, "小"),  # leasing and business services: staff and assets
        ("I6510", 120, 1200, None, "中"),  # software
        ("I6311", 120, 1200, None, "中"),  # telecom
        ("G5410", 20, 200, None, "小"),  # road transport, bounds inclusive
        ("G5920", 20, 99, None, "微"),  # warehousing
        ("G6010", 300, 2000, None, "中"),  # postal
        ("H6110", 100, 2000, None, "中"),  # accommodation
        ("A0111", None, 600, None, "中"),  # agriculture: revenue only
        ("M7310", 150, None, None, "中"),  # other: staff only
        ("J6620", 5000, 10**7, None, None),  # finance is outside the method
        ("", 5000, 10**7, None, None),
    ],
)
def test_classify(code, x, y, z, band):
    assert size_band.classify(code, x, Decimal(y) if y is not None else None, z) == band


def test_parse_industry_code_variants():
    assert size_band.parse_industry_code("C3311 金属结构制造") == ("C3311", "金属结构制造")
    assert size_band.parse_industry_code("３３１１") == ("C3311", "")
    assert size_band.parse_industry_code("制造业") == ("", "制造业")
    assert size_band.parse_industry_code("C") == ("C", "")
    assert size_band.parse_industry_code("A3311") == ("", "A3311")  # letter and digits disagree


def test_gbt_4754_2017_is_a_closed_list():
    from collections import Counter

    from services.registry import industry_codes

    table = industry_codes.codes()
    # 门类 20, 大类 97, 中类 473, 小类 1380: the standard's own totals.
    assert Counter(len(code) for code in table) == {1: 20, 3: 97, 4: 473, 5: 1380}
    assert all(code[:-1] in table or len(code) == 1 or code[:1] in table for code in table)
    assert all(code[:3] in table and code[:1] in table for code in table if len(code) >= 3)
    assert industry_codes.name_of("C3311") == "金属结构制造" and industry_codes.name_of("I") == "信息传输、软件和信息技术服务业"
    assert industry_codes.check("C3311 金属结构制造") == ("C3311", "金属结构制造", None)
    assert industry_codes.check("金属结构制造") == ("C3311", "金属结构制造", None)  # a name of the list
    assert industry_codes.check("某新兴行业") == ("", "某新兴行业", None)  # other text stays a name
    for wrong in ("X9999", "C9999", "C3420", "A3311", "I6510 软件开发"):
        code, _name, problem = industry_codes.check(wrong)
        assert code == "" and "GB/T 4754-2017" in problem, wrong
