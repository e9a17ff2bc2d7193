"""The campaign file (实施方案): the example parses, and every problem is named by its key."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from bot.draw.rfc3797 import RFC3797, RFC3797_SHA256
from bot.draw.strata import DEFAULT_RATIOS, STRATUM_ORDER
from bot.workflows.campaign_spec import CampaignSpec, SpecError, parse_campaign
from tests.helpers import EXAMPLE

MINIMAL = """
name = "专项抽查"
unit = "劳动保障监察大队"
items = ["RS-JC-003"]
start = 2026-12-01
end = 2026-12-31
purpose = "检查工资支付"
method = ["实地检查"]
officers_per_team = 2
teams = 1
leaders = ["豫41142200229"]
use_of_results = "公示"

[[entropy]]
name = "监督人"
"""


def edit(text: str, old: str, new: str) -> str:
    """Replace one exact line-or-fragment that occurs exactly once."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def problems_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_campaign(text)
    assert caught.value.problems
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def about(problems: list[str], key: str) -> list[str]:
    return [p for p in problems if p.startswith(f"实施方案 {key}: ")]


# --- the example ------------------------------------------------------------------------------


def test_example_parses() -> None:
    spec = parse_campaign(EXAMPLE)
    assert isinstance(spec, CampaignSpec)
    assert spec.teams == 3
    assert spec.officers_per_team == 2
    assert len(spec.leaders) == 3
    assert [e.name for e in spec.entropy] == ["监督人刘艳丽", "福彩3D"]
    assert [e.kind for e in spec.entropy] == ["witness", "lottery"]
    assert spec.methods == ("onsite", "documents")
    assert spec.start == dt.date(2026, 12, 1)
    assert spec.end == dt.date(2026, 12, 31)
    assert spec.confidential is True
    assert spec.absence_approver == "team_leader"
    assert spec.algorithm == RFC3797_SHA256
    assert spec.items == ("RS-JC-003", "RS-JC-006")
    assert len(spec.exclude_officers) == 1
    assert spec.exclude_officers[0].reason


def test_example_strata() -> None:
    strata = {s.label: s for s in parse_campaign(EXAMPLE).strata}
    assert list(strata) == list(STRATUM_ORDER)
    assert strata["high_risk"].minimum == 2
    assert strata["high_risk"].ratio == Decimal(30)
    assert strata["grade_c"].ratio == Decimal(15)
    assert strata["grade_a"].ratio == Decimal(1)
    assert strata["grade_c"].minimum == 0


def test_minimal_campaign_takes_the_defaults() -> None:
    spec = parse_campaign(MINIMAL)
    assert spec.confidential is False
    assert spec.absence_approver == "team_leader"
    assert spec.exclusion_months == 12
    assert spec.yearly_cap == 2
    assert spec.algorithm == RFC3797_SHA256
    assert spec.plan_need is None
    assert spec.exclude_officers == ()
    assert [(s.label, s.ratio, s.minimum) for s in spec.strata] == [
        (label, DEFAULT_RATIOS[label], 0) for label in STRATUM_ORDER
    ]
    assert spec.entropy[0].kind == "witness"


def test_teams_per_employer_means_none() -> None:
    spec = parse_campaign(edit(EXAMPLE, "teams = 3", 'teams = "per_employer"'))
    assert spec.teams is None


def test_absence_approver_by_chinese_label() -> None:
    text = edit(EXAMPLE, 'absence_approver = "组长审批"', 'absence_approver = "单位负责人审批"')
    assert parse_campaign(text).absence_approver == "unit_leader"


def test_absence_approver_by_code() -> None:
    text = edit(EXAMPLE, 'absence_approver = "组长审批"', 'absence_approver = "auto"')
    assert parse_campaign(text).absence_approver == "auto"


def test_methods_by_code() -> None:
    text = edit(EXAMPLE, 'method = ["实地检查", "书面检查"]', 'method = ["online", "其他"]')
    assert parse_campaign(text).methods == ("online", "other")


def test_stratum_ratio_shorthand_and_campaigns_use_the_labelled_algorithm() -> None:
    text = edit(EXAMPLE, 'grade_c = { ratio = "15%" }', 'grade_c = "20%"')
    spec = parse_campaign(text)
    assert {s.label: s.ratio for s in spec.strata}["grade_c"] == Decimal(20)
    assert spec.algorithm == RFC3797_SHA256
    # RFC 3797's own MD5 form mixes in no label: strata would share one hash sequence.
    problems = problems_of(edit(text, 'algorithm = "rfc3797-sha256"', f'algorithm = "{RFC3797}"'))
    assert about(problems, "algorithm")


def test_officers_per_team_three_is_fine() -> None:
    text = edit(EXAMPLE, "officers_per_team = 2", "officers_per_team = 3")
    assert parse_campaign(text).officers_per_team == 3


# --- one problem at a time --------------------------------------------------------------------

NAME_LINE = 'name = "2026年12月工资支付及社会保险双随机抽查"\n'

CASES = [
    ("missing-name", NAME_LINE, "", "name", "必须填写"),
    ("blank-name", NAME_LINE, 'name = "  "\n', "name", "必须填写"),
    ("one-officer", "officers_per_team = 2", "officers_per_team = 1", "officers_per_team", "2"),
    ("teams-zero", "teams = 3", "teams = 0", "teams", "per_employer"),
    ("teams-text", "teams = 3", 'teams = "abc"', "teams", "per_employer"),
    ("teams-negative", "teams = 3", "teams = -2", "teams", "per_employer"),
    ("teams-bool", "teams = 3", "teams = true", "teams", "per_employer"),
    ("teams-float", "teams = 3", "teams = 2.5", "teams", "类型不对"),
    (
        "ratio-300",
        'high_risk = { ratio = "30%", minimum = 2 }',
        'high_risk = { ratio = "300%", minimum = 2 }',
        "strata.high_risk.ratio",
        "300%",
    ),
    (
        "ratio-zero",
        'grade_b = { ratio = "5%" }',
        'grade_b = { ratio = "0%" }',
        "strata.grade_b.ratio",
        "0%",
    ),
    (
        "ratio-three-decimals",
        'grade_b = { ratio = "5%" }',
        'grade_b = { ratio = "5.125%" }',
        "strata.grade_b.ratio",
        "5.125%",
    ),
    (
        "negative-minimum",
        'high_risk = { ratio = "30%", minimum = 2 }',
        'high_risk = { ratio = "30%", minimum = -1 }',
        "strata.high_risk.minimum",
        "0",
    ),
    (
        "unknown-stratum",
        'ungraded = { ratio = "5%" }',
        'ungraded = { ratio = "5%" }\ngrade_d = { ratio = "5%" }',
        "strata.grade_d",
        "high_risk",
    ),
    ("unknown-key", NAME_LINE, NAME_LINE + 'colour = "red"\n', "colour", "不认识"),
    (
        "duplicate-entropy",
        'name = "福彩3D"',
        'name = "监督人刘艳丽"',
        "entropy[2].name",
        "监督人刘艳丽",
    ),
    ("entropy-equals", 'name = "福彩3D"', 'name = "福彩=3D"', "entropy[2].name", "="),
    ("entropy-comma", 'name = "福彩3D"', 'name = "福彩,3D"', "entropy[2].name", ","),
    ("entropy-kind", 'kind = "lottery"', 'kind = "raffle"', "entropy[2].kind", "raffle"),
    ("end-before-start", "end = 2026-12-31", "end = 2026-11-30", "end", "结束日期早于开始日期"),
    ("start-text", "start = 2026-12-01", 'start = "明天"', "start", "类型不对"),
    (
        "absence-unknown",
        'absence_approver = "组长审批"',
        'absence_approver = "校长审批"',
        "absence_approver",
        "校长审批",
    ),
    (
        "method-unknown",
        'method = ["实地检查", "书面检查"]',
        'method = ["实地检查", "飞行检查"]',
        "method",
        "飞行检查",
    ),
    ("empty-items", 'items = ["RS-JC-003", "RS-JC-006"]', "items = []", "items", "文字列表"),
    (
        "algorithm",
        'algorithm = "rfc3797-sha256"',
        'algorithm = "java.util.Random"',
        "algorithm",
        "rfc3797-sha256",
    ),
    ("yearly-cap", "yearly_cap = 2", "yearly_cap = 0", "yearly_cap", "1"),
    ("exclusion-months", "exclusion_months = 12", "exclusion_months = -1", "exclusion_months", "0"),
    ("confidential", "confidential = true", 'confidential = "是"', "confidential", "true 或 false"),
    (
        "exclusion-no-reason",
        'reason = "同期参加省厅专项检查"',
        'reason = ""',
        "exclude_officers[1]",
        "reason",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "key", "mention"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_problem_is_named_by_its_key(old: str, new: str, key: str, mention: str) -> None:
    problems = problems_of(edit(EXAMPLE, old, new))
    named = about(problems, key)
    assert len(named) == 1, problems
    assert mention in named[0]
    assert len(problems) == 1, problems  # nothing else in the example is wrong


def test_no_entropy_source_is_a_problem() -> None:
    text = MINIMAL.replace('[[entropy]]\nname = "监督人"\n', "entropy = []\n")
    problems = problems_of(text)
    assert about(problems, "entropy"), problems


def test_missing_entropy_is_a_problem() -> None:
    text = MINIMAL.replace('[[entropy]]\nname = "监督人"\n', "")
    assert about(problems_of(text), "entropy"), text


def test_bad_toml_is_one_problem() -> None:
    problems = problems_of('name = "又一个名字"\n' + EXAMPLE)  # the key twice
    assert len(problems) == 1
    assert problems[0].startswith("实施方案文件格式有误（TOML）")
    problems = problems_of('name = "未闭合\n')
    assert len(problems) == 1
    assert "TOML" in problems[0]


def test_every_problem_is_reported_at_once() -> None:
    text = EXAMPLE
    for old, new in [
        (NAME_LINE, 'colour = "red"\n'),
        ("officers_per_team = 2", "officers_per_team = 1"),
        ("teams = 3", 'teams = "abc"'),
        ('high_risk = { ratio = "30%", minimum = 2 }', 'high_risk = { ratio = "300%" }'),
        ('ungraded = { ratio = "5%" }', 'ungraded = { ratio = "5%" }\ngrade_x = "1%"'),
        ('name = "福彩3D"', 'name = "监督人刘艳丽"'),
        ("end = 2026-12-31", "end = 2026-11-30"),
        ('absence_approver = "组长审批"', 'absence_approver = "随便"'),
    ]:
        text = edit(text, old, new)
    text += '\n[[entropy]]\nname = "刘=3"\n'
    problems = problems_of(text)
    for key in (
        "name",
        "colour",
        "officers_per_team",
        "teams",
        "strata.high_risk.ratio",
        "strata.grade_x",
        "entropy[2].name",
        "entropy[3].name",
        "end",
        "absence_approver",
    ):
        assert len(about(problems, key)) == 1, (key, problems)
    assert len(problems) == 10, problems
    assert all(p.startswith("实施方案 ") for p in problems)


def test_teams_zero_and_text_are_both_refused_in_one_report() -> None:
    problems = problems_of(edit(MINIMAL, "teams = 1", "teams = 0\nofficers_per_team_x = 1"))
    assert about(problems, "teams")
    assert about(problems, "officers_per_team_x")


# --- bugs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("end = 2026-12-31", "end = 2026-12-31T17:00:00", "end"),
        ("start = 2026-12-01", "start = 2026-12-01T09:00:00", "start"),
    ],
)
def test_date_time_instead_of_date_is_a_problem(old: str, new: str, key: str) -> None:
    problems = problems_of(edit(EXAMPLE, old, new))
    assert about(problems, key) or about(problems, "start"), problems


def test_entropy_names_differing_only_in_spaces_are_duplicates() -> None:
    text = edit(EXAMPLE, 'name = "福彩3D"', 'name = "监督人刘艳丽 "')
    problems = problems_of(text)
    assert about(problems, "entropy[2].name"), problems


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        (
            'grade_c = { ratio = "15%" }',
            'grade_c = { ratio = "15%", minimun = 3 }',
            "strata.grade_c",
        ),
        ('kind = "lottery"', 'kind = "lottery"\ndescripton = "开奖号码"', "entropy[2]"),
        (
            'reason = "同期参加省厅专项检查"',
            'reason = "专项检查"\nreson = "x"',
            "exclude_officers[1]",
        ),
    ],
    ids=["stratum", "entropy", "exclusion"],
)
def test_unknown_key_inside_a_table_is_a_problem(old: str, new: str, key: str) -> None:
    problems = problems_of(edit(EXAMPLE, old, new))
    assert any(p.startswith(f"实施方案 {key}") for p in problems), problems


def test_blank_officer_in_an_exclusion_is_a_problem() -> None:
    text = edit(EXAMPLE, 'officer = "豫41142200526"', 'officer = "  "')
    assert about(problems_of(text), "exclude_officers[1]")


# --- what the example offers, and values typed with quotes ---------------------------------


def test_every_algorithm_the_example_offers_is_one_a_campaign_accepts() -> None:
    lines = EXAMPLE.splitlines()
    at = next(n for n, line in enumerate(lines) if line.startswith("algorithm ="))
    comment = []
    for line in reversed(lines[:at]):
        if not line.startswith("#"):
            break
        comment.append(line)
    offered = set(re.findall(r"\brfc3797(?:-sha256)?\b", " ".join(comment)))
    assert offered, comment
    for name in offered:
        spec = parse_campaign(
            edit(EXAMPLE, 'algorithm = "rfc3797-sha256"', f'algorithm = "{name}"')
        )
        assert spec.algorithm == name


@pytest.mark.parametrize(
    ("old", "new", "key", "unquoted"),
    [
        ("start = 2026-12-01", 'start = "2026-12-01"', "start", "start = 2026-12-01"),
        ("end = 2026-12-31", "end = '2026-12-31'", "end", "end = 2026-12-31"),
        ("officers_per_team = 2", 'officers_per_team = "2"', "officers_per_team",
         "officers_per_team = 2"),
    ],
)  # fmt: skip
def test_a_date_or_number_in_quotes_is_told_to_lose_the_quotes(
    old: str, new: str, key: str, unquoted: str
) -> None:
    problems = problems_of(edit(EXAMPLE, old, new))
    [named] = about(problems, key)
    assert "引号" in named and unquoted in named, named
    assert len(problems) == 1, problems


def test_a_quoted_word_that_is_no_date_is_still_asked_for_a_date() -> None:
    [named] = about(problems_of(edit(EXAMPLE, "start = 2026-12-01", 'start = "下月初"')), "start")
    assert "日期" in named and "引号" not in named
