"""In Chromium: a system administrator uploads a real-looking export, sees the preview with its row
errors, confirms, and sees the census change. The jobs process is played by ``run_job_now``."""

from __future__ import annotations

import re

import pytest

from jobs.scheduler import run_job_now
from models import Role
from tests.browser.helpers import desktop_page, sign_in
from tests.registry.exports import bad_check_digit, codes, full_width, row, write_xlsx

pytestmark = pytest.mark.browser


@pytest.fixture
def seeded(factory, session):
    factory.person(Role.SYSADMIN, name="周管理", login="admin")
    factory.enterprise(name="天津已在库企业有限公司")
    session.commit()
    session.close()  # the browser's requests write from other threads: hold no transaction here


def test_upload_preview_confirm_census(app, live_server, browser, seeded, tmp_path, artifacts):
    base = live_server
    a, b, c, d = codes(4, start=7000)
    export = write_xlsx(tmp_path / "北辰区市场主体名录.xlsx", [
        row(1, a, "天津北辰精密机械有限公司 ", founded=43831, staff=full_width("25")),
        row(2, b, "天津天穆食品有限公司", founded="2019年3月5日"),
        row(3, c, "天津双街物流有限公司", status="注销"),
        row(4, bad_check_digit(d), "校验位错误有限公司"),
        row(5, a, "天津北辰精密机械有限公司"),
        row(6, "120113600012345", "北辰区老李修车铺", kind="个体工商户", founded="20090807"),
    ])
    page = desktop_page(browser)
    sign_in(page, base, "admin")

    page.click("nav >> text=企业库")
    page.click("text=底数统计")
    assert page.locator("#census-total").inner_text() == "1"

    page.click("text=名录导入")
    page.set_input_files("#upload-form input[type=file]", str(export))
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/registry/imports/\d+$"))
    assert "正在预检" in page.inner_text("#job-status")

    # The jobs process runs the dry run; the page notices by itself and shows the preview.
    run_job_now(app, "run_imports")
    page.wait_for_selector("text=预检结果（尚未写入企业库）")
    assert page.locator('[data-count="new"]').inner_text() == "4"
    errors = page.locator("#row-error-table").inner_text()
    assert "统一社会信用代码校验位错误" in errors and "文件内重复（与第 4 行为同一企业）" in errors
    page.screenshot(path=str(artifacts / "registry-preview.png"), full_page=True)

    page.click("[data-action=confirm-import]")
    page.wait_for_selector("text=已确认导入，正在后台执行")
    run_job_now(app, "run_imports")
    page.wait_for_selector("text=导入完成")
    assert page.locator('[data-count="new"]').inner_text() == "4"
    page.screenshot(path=str(artifacts / "registry-import-done.png"), full_page=True)

    page.click("text=查看企业底数")
    page.wait_for_url(f"{base}/registry/census")
    assert page.locator("#census-total").inner_text() == "5"
    page.screenshot(path=str(artifacts / "registry-census.png"), full_page=True)
    # Drill down: the new enterprises wait in the 未分配 row; its 注销 count leads to the one deregistered.
    page.click('#census tr[data-zone="未分配"] a[href*="group=deregistered"]')
    page.wait_for_url(re.compile(r".*/registry/enterprises\?.*group=deregistered"))
    assert page.locator("#enterprise-list tbody tr").count() == 1
    page.screenshot(path=str(artifacts / "registry-list.png"))
    page.click("text=天津双街物流有限公司")
    page.wait_for_selector("text=基本信息")
    assert "注销" in page.inner_text(".page-head")
    page.screenshot(path=str(artifacts / "registry-enterprise.png"), full_page=True)
