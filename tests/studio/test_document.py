"""The configuration document: validation naming the entry, diff, import/export, revisions, restore."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

import services.messaging.commands  # noqa: F401  (registers the command words the document may alias)
from models import ConfigRevision, IndustryTag, RequestDomain, ServiceStage
from services.errors import ValidationFailed
from services.studio import store
from services.studio.dispatch import Facts, decide
from services.studio.forms import FieldDef, clean_values

GOOD = {
    "command_aliases": {"收到": "报到"},
    "dispatch_rules": [{"name": "社保补贴咨询", "when": {"keywords": ["社保补贴", "稳岗返还"], "domain": "公共服务"},
                        "then": {"department": "区人社局", "level": 2}}],
    "forms": {"公共服务": [{"key": "employees", "label": "涉及人数", "type": "number", "required": True, "min": 1}]},
}


@pytest.fixture
def names(session):
    departments = {d for d in store.known(session).departments}
    return departments


def good_document(session):
    document = {k: v for k, v in GOOD.items()}
    department = sorted(store.known(session).departments)[0]
    document["dispatch_rules"] = [{**GOOD["dispatch_rules"][0], "then": {"department": department, "level": 2}}]
    return document, department


@pytest.mark.parametrize("broken, expected", [
    ({"dispatch_rules": [{"name": "x", "when": {"keywords": ["社保"]}, "then": {"department": "人设局", "level": 2}}]},
     "dispatch_rules[0].then.department：未知部门「人设局」"),
    ({"templates": {"whistle": "{{ nosuch }} 请报到"}}, "templates.whistle：未知占位符「nosuch」"),
    ({"forms": {"公共服务": [{"key": "a", "label": "甲", "type": "text"}, {"key": "a", "label": "乙", "type": "text"}]}},
     "forms.公共服务[1].key：字段键「a」重复"),
    ({"command_aliases": {"收到": "不存在的命令"}}, "command_aliases.收到：未知命令「不存在的命令」"),
    ({"forms": {"公共服务": [{"key": "n", "label": "数", "type": "number", "min": 5, "max": 1}]}},
     "forms.公共服务[0].min：下限大于上限"),
    ({"stage_leads": {"企业开办": "不存在的局"}}, "stage_leads.企业开办：未知部门「不存在的局」"),
])
def test_a_broken_document_names_the_entry_and_changes_nothing(session, broken, expected):
    before = store.export_document(session)
    result = store.plan(session, broken)
    assert any(p.startswith(expected) for p in result.problems), result.problems
    with pytest.raises(ValidationFailed) as error:
        store.apply(session, None, broken, reason="坏文档", now=store_now())
    assert expected in error.value.message
    assert session.scalar(select(func.count(ConfigRevision.id))) == 0
    assert store.export_document(session) == before


def store_now():
    from models import utcnow

    return utcnow()


def test_bad_yaml_names_the_line():
    with pytest.raises(ValidationFailed, match="YAML 格式错误（第 3 行第 2 列）"):
        store.from_yaml("forms:\n  公共服务: [a, b\nx: 1\n")


def test_apply_export_import_is_a_noop_and_restore_brings_back_behaviour(session):
    document, department = good_document(session)
    first = store.apply(session, None, document, reason="加社保补贴规则", now=store_now())
    assert first is not None and any("派单目录：新增" in line for line in first.changes)
    exported = store.export_document(session)
    assert set(exported) >= {"forms", "dispatch_rules", "templates", "command_aliases", "industries", "stage_leads"}
    again = store.from_yaml(store.to_yaml(exported))
    assert store.plan(session, again).ok and store.plan(session, again).changes == []
    assert store.apply(session, None, again, reason="原样导入", now=store_now()) is None

    rules = store.runtime(session).dispatch_rules
    decision = decide(rules, Facts(text="咨询社保补贴怎么申请", domain="公共服务"))
    assert decision is not None and decision.department == department and decision.level == 2

    second = store.apply(session, None, {"dispatch_rules": [], "command_aliases": {}}, reason="清空", now=store_now())
    assert decide(store.runtime(session).dispatch_rules, Facts(text="社保补贴", domain="公共服务")) is None
    assert second.changes
    store.restore(session, None, first.id, reason="回到第一版", now=store_now())
    assert decide(store.runtime(session).dispatch_rules, Facts(text="社保补贴", domain="公共服务")) is not None
    assert store.runtime(session).command_aliases == {"收到": "报到"}
    kinds = [r.kind for r in store.revisions(session)]
    assert kinds == ["restore", "edit", "edit"]


def test_table_sections_are_written_in_the_same_transaction(session):
    exported = store.export_document(session)
    stage = next(iter(exported["stage_leads"]))
    department = sorted(store.known(session).departments)[-1]
    domain = next(iter(exported["domain_keywords"]))
    industries = [{**row, "key_industry": not row["key_industry"]} if i == 0 else row
                  for i, row in enumerate(exported["industries"])]
    store.apply(session, None, {"stage_leads": {stage: department}, "domain_keywords": {domain: ["用工", "招聘"]},
                                "industries": industries}, reason="调整", now=store_now())
    row = session.scalar(select(ServiceStage).where(ServiceStage.name == stage))
    assert row.lead_department.name == department
    assert session.scalar(select(RequestDomain.keywords).where(RequestDomain.name == domain)) == "用工,招聘"
    first = session.scalar(select(IndustryTag).where(IndustryTag.code == industries[0]["code"]))
    assert first.is_key_industry == industries[0]["key_industry"]
    # An industry cannot be dropped (enterprises and policies point at it).
    result = store.plan(session, {"industries": industries[1:]})
    assert any("不能删除" in p for p in result.problems)


def test_form_values_are_checked_against_the_definition():
    fields = [FieldDef.from_dict(f) for f in (
        {"key": "employees", "label": "涉及人数", "type": "number", "required": True, "min": 1, "max": 500, "unit": "人"},
        {"key": "kind", "label": "类型", "type": "choice", "options": ["新办", "变更"]},
        {"key": "urgent", "label": "是否加急", "type": "yes_no"},
        {"key": "on", "label": "日期", "type": "date"},
    )]
    values, errors = clean_values(fields, {"employees": "30", "kind": "新办", "urgent": "是", "on": "2026-03-02"})
    assert values == {"employees": 30, "kind": "新办", "urgent": True, "on": "2026-03-02"} and errors == {}
    _, errors = clean_values(fields, {"kind": "注销", "urgent": "也许", "on": "2026-02-30", "extra": 1})
    assert errors == {"employees": "请填写「涉及人数」", "kind": "「类型」应为以下之一：新办、变更",
                      "urgent": "「是否加急」应为“是”或“否”", "on": "「日期」不是有效的日期", "extra": "没有名为「extra」的字段"}
    _, errors = clean_values(fields, {"employees": "NaN"})
    assert errors["employees"] == "「涉及人数」应为数字"
    _, errors = clean_values(fields, {"employees": 900})
    assert errors["employees"] == "「涉及人数」不能大于 500人"


def test_cli_export_then_import_unchanged_is_a_noop_and_a_broken_file_exits_nonzero(app, session_factory, tmp_path):
    runner = CliRunner()
    target = tmp_path / "config.yaml"
    result = app.test_cli_runner().invoke(args=["config", "export", str(target)])
    assert result.exit_code == 0, result.output
    loaded = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert {"forms", "dispatch_rules", "templates", "command_aliases"} <= set(loaded)
    same = app.test_cli_runner().invoke(args=["config", "import", str(target)])
    assert same.exit_code == 0 and "无需修改" in same.output
    loaded["dispatch_rules"] = [{"name": "错", "when": {"keywords": ["社保"]}, "then": {"department": "人设局"}}]
    target.write_text(yaml.safe_dump(loaded, allow_unicode=True), encoding="utf-8")
    broken = app.test_cli_runner().invoke(args=["config", "import", str(target)])
    assert broken.exit_code != 0 and "dispatch_rules[0].then.department：未知部门「人设局」" in broken.output
    (tmp_path / "bad.yaml").write_text("forms: [\n", encoding="utf-8")
    bad = app.test_cli_runner().invoke(args=["config", "import", str(tmp_path / "bad.yaml")])
    assert bad.exit_code != 0 and "YAML 格式错误" in bad.output
    with session_factory() as s:
        assert s.scalar(select(func.count(ConfigRevision.id))) == 0
    del runner


def test_an_sla_edit_on_the_admin_page_is_a_revision_too(session, factory):
    """Reminder thresholds and the 督办 chain live in the 时限策略 table; an edit there is a version."""
    from models import Role, SlaPolicy
    from services.admin.operations import AdminContext, save_sla_policy

    admin = factory.person(Role.SYSADMIN, name="周管理")
    policy = session.scalar(select(SlaPolicy).where(SlaPolicy.domain_id.is_(None)).order_by(SlaPolicy.id))
    ctx = AdminContext(session=session, actor=admin, now=store_now(), ip="127.0.0.1")
    baseline = store.snapshot(session, None, reason="初始配置", now=store_now())  # what `flask seed` records
    assert baseline.changes == ["初始配置"]
    data = {"sign_minutes": policy.sign_minutes or "", "sign_workdays": policy.sign_workdays or "",
            "handle_workdays": policy.handle_workdays or "", "remind_percents": "30,60,90",
            "leader_after_workdays": policy.leader_after_workdays, "bizenv_after_workdays": policy.bizenv_after_workdays,
            "return_limit_workdays": policy.return_limit_workdays,
            "return_limit_workdays_complex": policy.return_limit_workdays_complex}
    save_sla_policy(ctx, policy.id, data)
    revision, _ = store.revisions(session)
    assert revision.actor_label == "周管理" and any("办理时限、提醒与督办" in line for line in revision.changes)
    assert [30, 60, 90] in [p["remind_percents"] for p in revision.document["sla_policies"]]
