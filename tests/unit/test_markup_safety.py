"""People's text inside platform markup: text only, and only the system's own links stay live."""

from __future__ import annotations

from integrations import wecom_cards
from integrations.base import html_safe, markdown_safe, plain_safe

OWN = "https://yxby.beichen.gov.cn"
HOSTILE = "详见[点击领取补贴](http://evil.example/a_b) ![](https://evil.example/x.png) **粗体** # 标题 > 引用 www.evil.cn"


def test_markdown_loses_its_links_images_and_emphasis_but_keeps_the_desks_own_link():
    safe = markdown_safe(f"{HOSTILE} 评价：{OWN}/s/Ab_cd-Ef", OWN)
    for markup in ("](", "![", "**", "# ", "> ", "http://evil", "www.evil"):
        assert markup not in safe
    assert "［点击领取补贴］" in safe and "evil［.］example" in safe
    assert safe.endswith(f"{OWN}/s/Ab_cd-Ef")  # untouched, underscores included


def test_plain_text_defangs_foreign_urls_only():
    safe = plain_safe(f"访问 http://evil.example/x 或 {OWN}/m/orders/BC-1", OWN)
    assert safe == f"访问 http[:]//evil[.]example/x 或 {OWN}/m/orders/BC-1"
    assert plain_safe("没有链接的文字，（全角括号）") == "没有链接的文字，（全角括号）"


def test_wecom_textcard_descriptions_take_no_html_from_people():
    assert html_safe('<div class="highlight">加急</div>') == '&lt;div class="highlight"&gt;加急&lt;/div&gt;'
    message = wecom_cards.notice_message({"title": "工单已办结", "text": '<div class="highlight">加急</div> http://evil.example',
                                          "url": "/m/orders/BC-1"}, OWN)
    description = message["textcard"]["description"]
    assert "<div" not in description and "evil.example" not in description
    assert message["textcard"]["url"] == f"{OWN}/m/orders/BC-1"
