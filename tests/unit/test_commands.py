"""The commands anyone can send (帮助, 我的任务), the replies they get by role, and the outgoing
message model's JSON form."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.base.texts import table
from bot.platforms.messages import Button, Outgoing
from handlers.commands import (
    Asker,
    Command,
    DrawToCheck,
    Task,
    apology,
    command_of,
    help_reply,
    normalize,
    parse,
    refers_to,
    stranger_reply,
    tasks_reply,
    unknown_reply,
)

WORDS = table("chat/commands.toml")
WHOLE = {name: words for name, words in WORDS.items() if isinstance(words, list)}


def asker(*roles: str, team_leader: bool = False, name: str = "张三") -> Asker:
    return Asker(name, frozenset(roles), team_leader)


# --- recognising commands ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "command"),
    [
        ("帮助", "help"),
        ("help", "help"),
        ("?", "help"),
        ("？", "help"),
        ("菜单", "help"),
        ("我的任务", "my_tasks"),
        ("任务列表", "my_tasks"),
        ("tasks", "my_tasks"),
        ("继续", "resume"),
        ("继续填写", "resume"),
        ("接着填", "resume"),
        ("填写 任务3", "fill"),
        ("填写检查结果", "fill"),
        ("填报", "fill"),
        ("退回 结果12 金额不对", "reopen"),
        ("生成检查报告", "generate_report"),
        ("生成报告 任务3", "generate_report"),
        ("检查报告", "generate_report"),
        ("报告结论 3 家单位均未发现问题", "conclude"),
        ("提交审批", "submit_report"),
        ("提交报告", "submit_report"),
        ("报告提交审批", "submit_report"),
        ("重开报告 3 金额需要核实", "reopen_report"),
        ("待办", "todo"),
        ("我的待办", "todo"),
        ("待办事项", "todo"),
        ("查看审批7", "show_approval"),
        ("已整改 结果12 已补发工资", "rectified"),
        ("整改完成 结果12", "rectified"),
        ("完成整改12", "rectified"),
    ],
)
def test_every_listed_word_names_its_command(message: str, command: str) -> None:
    assert command_of(message) == command


@pytest.mark.parametrize(
    ("message", "command"),
    [
        (" 帮 助 ", "help"),
        ("帮助\n", "help"),
        ("\u3000帮助\u3000", "help"),  # ideographic spaces
        ("HELP", "help"),
        ("Ｈｅｌｐ", "help"),  # full-width letters
        ("？ ", "help"),
        (" 我的 任务", "my_tasks"),
        ("\t任务列表\r\n", "my_tasks"),
        ("ＴＡＳＫＳ", "my_tasks"),
    ],
)
def test_blanks_case_and_full_width_are_folded(message: str, command: str) -> None:
    assert command_of(message) == command


@pytest.mark.parametrize(
    "message", ["", " ", "帮助我", "我的任务呢", "helpme", "??", "你好", "帮-助", "批准了吗好"[1:]]
)
def test_anything_else_is_not_a_command(message: str) -> None:
    assert command_of(message) is None


def test_the_word_list_is_what_the_tests_cover() -> None:
    assert WHOLE == {
        "help": ["帮助", "help", "?", "？", "菜单"],
        "my_tasks": ["我的任务", "任务列表", "tasks"],
        "cancel": ["取消", "算了", "cancel"],
        "resume": ["继续", "继续填写", "接着填"],
        "todo": ["待办", "我的待办", "待办事项"],
    }
    assert set(WORDS["prefixed"]) == {
        "task",
        "confirm",
        "decline",
        "recuse",
        "approve",
        "reject",
        "fill",
        "reopen",
        "generate_report",
        "conclude",
        "submit_report",
        "reopen_report",
        "progress",
        "show_approval",
        "rectified",
    }


def test_normalize_folds_width_blanks_and_case() -> None:
    assert normalize(" Ｈｅｌｌｏ　Ｗｏｒｌｄ？ ") == "helloworld?"


@settings(max_examples=100, deadline=None)
@given(
    pair=st.sampled_from([(w, c) for c, words in WHOLE.items() for w in words]),
    blanks=st.lists(st.sampled_from([" ", "\t", "\n", "\u3000", "\xa0"]), max_size=8),
    cuts=st.lists(st.integers(0, 8), max_size=8),
)
def test_blanks_anywhere_in_a_word_still_name_its_command(
    pair: tuple[str, str], blanks: list[str], cuts: list[int]
) -> None:
    word, command = pair
    spaced = word
    for blank, cut in zip(blanks, cuts, strict=False):
        at = min(cut, len(spaced))
        spaced = spaced[:at] + blank + spaced[at:]
    assert command_of(spaced) == command


# --- help, by role ----------------------------------------------------------------------------


def test_help_is_markdown_with_a_title_and_greets_by_name() -> None:
    reply = help_reply(asker("officer", name="李四"))
    assert reply.kind == "markdown"
    assert reply.title == "抽查助手使用说明"
    assert reply.text.startswith("李四您好")
    assert "「我的任务」" in reply.text and "「帮助」" in reply.text
    assert reply.text == reply.text.strip()


def test_officer_help_explains_confirming_and_declining_but_not_approving() -> None:
    text = help_reply(asker("officer")).text
    assert "确认参加" in text
    assert "无法参加 原因" in text
    assert "审批" not in text
    assert "registry" not in text


def test_leader_help_explains_approving() -> None:
    text = help_reply(asker("leader")).text
    assert "审批" in text
    assert "驳回 原因" in text
    assert "确认参加" not in text  # the officer's part is for officers


def test_team_leader_flag_alone_shows_the_approval_part() -> None:
    assert "审批" in help_reply(asker("officer", team_leader=True)).text
    assert "审批" not in help_reply(asker("officer", team_leader=False)).text


def test_admin_help_points_to_the_registry_commands() -> None:
    text = help_reply(asker("admin")).text
    assert "registry import" in text and "export" in text
    assert "审批" not in text and "确认参加" not in text


PUBLIC = "https://suiji.example.gov.cn"
HEAD = "4483c46f0733743134b86a48bef9867003fe815de10b1c40de9230650b4f6074"
COMMITMENT = "e5bd7ce975c43974818b2558a623fbf08dc7de96908ec023b143ed563cceb4d2"


def a_draw(*, public: bool = True, runs: int = 2) -> DrawToCheck:
    return DrawToCheck(
        7, "2026年12月工资支付专项抽查", runs, HEAD, COMMITMENT, "2026-12-31", public
    )


def test_witness_help_says_what_a_witness_can_do_from_their_phone() -> None:
    text = help_reply(asker("witness"), [a_draw()], PUBLIC).text
    # Their draw's certificate and record, a tap away; the verifier for any computer.
    assert f"{PUBLIC}/draw/7/" in text and f"{PUBLIC}/draw/7/record.json" in text
    assert f"{PUBLIC}/draw/verify.py" in text
    assert "2026年12月工资支付专项抽查" in text and "摇号 2 次" in text
    assert HEAD in text and COMMITMENT in text  # to note now and compare with the certificate
    assert "python3 verify.py 记录.json --runs 2 --head" in text
    assert "suiji draw" not in text  # a 纪委 witness has no suiji of their own


def test_witness_help_for_a_confidential_draw_gives_the_values_and_when_it_opens() -> None:
    text = help_reply(asker("witness"), [a_draw(public=False)], PUBLIC).text
    assert f"{PUBLIC}/draw/7/" not in text
    assert "保密" in text and "2026-12-31" in text
    assert HEAD in text and COMMITMENT in text


def test_witness_help_without_a_public_address_says_whom_to_ask() -> None:
    text = help_reply(asker("witness"), [a_draw()], "").text
    assert "http" not in text and "向操作员索取" in text
    assert HEAD in text


def test_witness_help_before_any_draw_says_so() -> None:
    text = help_reply(asker("witness"), [], PUBLIC).text
    assert "还没有已摇号的抽查" in text
    assert f"{PUBLIC}/draw/verify.py" in text


def test_only_a_witness_is_told_about_draws() -> None:
    text = help_reply(asker("officer", "leader"), [a_draw()], PUBLIC).text
    assert HEAD not in text and "/draw/" not in text


def test_someone_with_every_role_sees_every_part() -> None:
    text = help_reply(asker("officer", "leader", "admin", "witness"), [a_draw()], PUBLIC).text
    for part in ("确认参加", "审批", "registry import", "verify.py"):
        assert part in text


def test_help_differs_between_roles() -> None:
    texts = {role: help_reply(asker(role)).text for role in ("officer", "leader", "admin")}
    assert len(set(texts.values())) == 3


# --- my tasks ---------------------------------------------------------------------------------

TASKS = [
    Task(
        11,
        "2026年第一批劳动保障抽查",
        "2026-03-09",
        "2026-03-13",
        1,
        "leader",
        "notified",
        0,
        3,
        False,
    ),
    Task(
        12,
        "2026年第一批劳动保障抽查",
        "2026-03-09",
        "2026-03-13",
        2,
        "member",
        "confirmed",
        4,
        2,
        False,
    ),
    Task(31, "2026年第二批", "2026-06-01", "2026-06-05", 3, "member", "declined", 9, 5, True),
]


def test_no_tasks_says_so() -> None:
    reply = tasks_reply(asker("officer", name="王五"), [])
    assert reply.kind == "markdown"
    assert reply.title == "我的任务"
    assert "王五，您目前没有抽查任务" in reply.text
    assert "任务" not in reply.text.split("没有抽查任务")[1].split("被抽中后")[0]


def test_tasks_show_their_numbers_dates_team_role_and_state() -> None:
    text = tasks_reply(asker("officer", name="王五"), TASKS).text
    assert "王五，您的抽查任务" in text and "「任务 编号」" in text
    lines = [line for line in text.splitlines() if line.strip().startswith("- ")]
    first, second, third = lines
    assert "任务11" in first and "【2026年第一批劳动保障抽查】2026-03-09 至 2026-03-13" in first
    assert "第 1 组组长" in first and "检查 3 家单位" in first and "状态" not in first
    assert "任务12" in second and "第 2 组组员" in second and "已确认参加" in second
    assert "任务31" in third and "（递补）" in third and "待审批" in third


# --- parsing what people type -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "name", "number", "rest"),
    [
        ("无法参加 出差", "decline", None, "出差"),
        ("不能参加，原因：开会", "decline", None, "开会"),
        ("不能参加,原因:开会", "decline", None, "开会"),
        ("无法参加", "decline", None, ""),
        ("参加不了。", "decline", None, ""),
        ("请假：生病住院", "decline", None, "生病住院"),
        ("无法参加 任务12", "decline", 12, ""),
        ("无法参加　＃１２　出差", "decline", 12, "出差"),
        ("无法参加 12号要开庭", "decline", None, "12号要开庭"),
        ("无法参加 3 天后出差", "decline", None, "3 天后出差"),
        ("无法参加任务12", "decline", 12, ""),
        ("同意 3", "approve", 3, ""),
        ("同意 99999999999", "approve", 0, ""),
        ("驳回 审批99999999999 不行", "reject", 0, "不行"),
        ("确认参加 任务3", "confirm", 3, ""),
        ("确认", "confirm", None, ""),
        ("同意", "approve", None, ""),
        ("同意 审批5", "approve", 5, ""),
        ("驳回 审批5 材料不全", "reject", 5, "材料不全"),
        ("驳回：理由：不符合规定", "reject", None, "不符合规定"),
        ("不同意 审批2", "reject", 2, ""),
        ("任务 7", "task", 7, ""),
        (
            "回避 91411422MAKD1PU93K 配偶在该单位任职",
            "recuse",
            None,
            "91411422MAKD1PU93K 配偶在该单位任职",
        ),
        ("我的任务", "my_tasks", None, ""),
        ("任务列表", "my_tasks", None, ""),
        ("取消", "cancel", None, ""),
        ("ＨＥＬＰ", "help", None, ""),
    ],
)
def test_what_people_type_is_parsed(message: str, name: str, number: int | None, rest: str) -> None:
    assert parse(message) == Command(name, number, rest)


@pytest.mark.parametrize(
    ("message", "number", "refers"),
    [
        ("进度", None, "campaign"),
        ("进度 抽查3", 3, "campaign"),
        ("查看进度　抽查１２", 12, "campaign"),
        ("进度 3", 3, "campaign"),
        ("进度 #3", 3, "campaign"),
        ("进度 任务12", 12, "task"),
        ("进度任务12", 12, "task"),
        ("进度 审批5", 5, "other"),
        ("进度 结果7", 7, "other"),
    ],
)
def test_the_number_after_progress_names_a_campaign_or_a_task(
    message: str, number: int | None, refers: str
) -> None:
    command = parse(message)
    assert command is not None and command.name == "progress" and command.number == number
    assert refers_to(command) == refers


@pytest.mark.parametrize("message", ["进度怎么样", "进度条", "检查进度表在哪"])
def test_progress_must_stand_on_its_own(message: str) -> None:
    assert command_of(message) is None


@pytest.mark.parametrize(
    "message",
    [
        "你好",
        "",
        "  ",
        "参加培训的通知",
        "明天无法参加",
        "请假条怎么写？",
        "确认参加吗",
        "同意的人太多了，人手不够",
        "任务书在哪里",
        "回避者名单",
    ],
)
def test_other_messages_are_no_command(message: str) -> None:
    assert parse(message) is None


# --- short replies ----------------------------------------------------------------------------


def test_stranger_is_told_to_get_registered() -> None:
    reply = stranger_reply()
    assert reply.kind == "text"
    assert "还没有登记" in reply.text and "名录管理员" in reply.text


def test_unknown_reply_quotes_the_message_and_suggests_help() -> None:
    reply = unknown_reply("你好")
    assert reply.kind == "text"
    assert "「你好」" in reply.text and "「帮助」" in reply.text


def test_unknown_reply_quotes_at_most_fifty_characters() -> None:
    message = "".join(chr(0x4E00 + n) for n in range(200))
    reply = unknown_reply(message)
    assert f"「{message[:50]}」" in reply.text
    assert message[50] not in reply.text
    assert len(reply.text) < 50 + 40


def test_apology_is_plain_text() -> None:
    reply = apology()
    assert reply.kind == "text" and "抱歉" in reply.text


# --- the outgoing message as JSON -------------------------------------------------------------

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60)
outgoing = st.builds(
    Outgoing,
    kind=st.sampled_from(["text", "markdown", "card", "link"]),
    text=texts,
    title=texts,
    buttons=st.lists(st.builds(Button, key=texts, label=texts), max_size=7).map(tuple),
    url=texts,
    subject=texts,
)


@settings(max_examples=100, deadline=None)
@given(message=outgoing)
def test_outgoing_survives_a_json_round_trip(message: Outgoing) -> None:
    stored = json.dumps(message.to_json(), ensure_ascii=False)
    assert Outgoing.from_json(json.loads(stored)) == message


def test_outgoing_json_shape() -> None:
    card = Outgoing.card("任务", "请确认", (Button("ok:1", "确认参加"),), "assignment:1")
    assert card.to_json() == {
        "kind": "card",
        "text": "请确认",
        "title": "任务",
        "buttons": [{"key": "ok:1", "label": "确认参加"}],
        "url": "",
        "token": "",
        "subject": "assignment:1",
    }


def test_outgoing_from_minimal_json_takes_defaults() -> None:
    assert Outgoing.from_json({"kind": "text", "text": "你好"}) == Outgoing.plain("你好")
