"""The draw as an outsider and an operator see it, through the suiji command."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.base.times import local_time
from bot.draw.record import commitment_sha256, recompute, run_sha256, sha256_text
from tests.e2e.test_cli import run

RFC_NAMES = [
    "John", "Mary", "Bashful", "Dopey", "Sleepy", "Grouchy", "Doc", "Sneezy", "Happy", "Ann",
    "Tom", "Jack", "Andy", "Bob", "Sam", "Jim", "Tim", "Karl", "Lisa", "Pat", "Joe", "Eve",
    "Kim", "Luke", "Zoe",
]  # fmt: skip
RFC_POSITIONS = [17, 7, 2, 16, 25, 23, 8, 24, 19, 13, 22, 5, 18, 9, 1, 4]


@pytest.fixture
def rfc_files(tmp_path: Path) -> tuple[Path, Path]:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# RFC 3797 section 6\n9319\n2 5 12 8 10\n9 18 26 34 41 45  # last\n")
    pool = tmp_path / "pool.txt"
    pool.write_text("\n".join(RFC_NAMES) + "\n")
    return seeds, pool


def test_rfc3797_worked_example_comes_out_of_the_cli(rfc_files: tuple[Path, Path]) -> None:
    seeds, pool = rfc_files
    result = run("draw", "rfc3797", "--seeds", str(seeds), "--pool", str(pool), "--count", "16",
                 "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["key"] == "9319./2.5.8.10.12./9.18.26.34.41.45./"
    assert [p["position"] for p in out["picks"]] == RFC_POSITIONS
    assert [p["index"] for p in out["picks"]] == list(range(1, 17))
    assert [p["entry"] for p in out["picks"]] == [RFC_NAMES[i - 1] for i in RFC_POSITIONS]
    text = run("draw", "rfc3797", "--seeds", str(seeds), "--pool", str(pool), "--count", "3")
    assert text.output.splitlines()[0] == "key（摇号密钥）: 9319./2.5.8.10.12./9.18.26.34.41.45./"


def test_rfc3797_bad_inputs_are_messages(rfc_files: tuple[Path, Path], tmp_path: Path) -> None:
    seeds, pool = rfc_files
    too_many = run("draw", "rfc3797", "--seeds", str(seeds), "--pool", str(pool), "--count", "26")
    assert too_many.exit_code == 1 and "只有 25 个" in too_many.output
    bad = tmp_path / "bad.txt"
    bad.write_text("12 x 7\n")
    result = run("draw", "rfc3797", "--seeds", str(bad), "--pool", str(pool), "--count", "1")
    assert result.exit_code == 1 and "bad.txt 第1行" in result.output


@pytest.fixture
def drawn(tmp_path: Path) -> tuple[Path, Path]:
    """A sample bureau whose example campaign has been committed, run and exported."""
    directory = tmp_path / "bureau"
    assert run("init", str(directory), "--sample").exit_code == 0
    config = directory / "suiji.toml"
    example = tmp_path / "campaign.toml"
    example.write_text(run("campaign", "example").output, "utf-8")
    created = run("campaign", "create", "--file", str(example), config=config)
    assert created.exit_code == 0, created.output
    campaign_id = created.output.strip().splitlines()[-1]
    assert campaign_id == "1"
    committed = run("draw", "commit", campaign_id, config=config)
    assert committed.exit_code == 0, committed.output
    ran = run("draw", "run", campaign_id, "--entropy", "监督人刘艳丽=7,42,88",
              "--entropy", "福彩3D=3,9,1", config=config)  # fmt: skip
    assert ran.exit_code == 0, ran.output
    record = tmp_path / "record.json"
    assert run("draw", "export", campaign_id, str(record), config=config).exit_code == 0
    return config, record


def _standalone(tmp_path: Path, record: Path, *published: str) -> subprocess.CompletedProcess[str]:
    verifier = tmp_path / "verify.py"
    verifier.write_text(run("draw", "verifier").output, "utf-8")
    return subprocess.run(
        [sys.executable, str(verifier), str(record), *published],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )


def test_campaign_goes_commit_run_export_verify(drawn: tuple[Path, Path], tmp_path: Path) -> None:
    config, record = drawn
    verified = run("draw", "verify", str(record))
    assert verified.exit_code == 0 and verified.output.startswith("OK")
    outsider = _standalone(tmp_path, record)
    assert outsider.returncode == 0 and outsider.stdout.startswith("OK")
    shown = json.loads(run("campaign", "show", "1", "--format", "json", config=config).output)
    assert shown["state"] == "drawn" and len(shown["teams"]) == 3
    assert all(len(t["members"]) == 2 for t in shown["teams"])
    text = run("campaign", "show", "1", config=config).output
    assert "第 1 组　组长 张凯" in text and "剩余备选" in text and "已通知，待确认" in text
    page = tmp_path / "certificate.html"
    assert run("draw", "certificate", "1", str(page), config=config).exit_code == 0
    html = page.read_text("utf-8")
    assert "摇号证书" in html and json.loads(record.read_text("utf-8"))["draws"][0]["key"] in html


LOCAL_MINUTE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")
UTC_ISO = re.compile(r"\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)")


def test_people_read_draw_times_in_the_bureaus_zone_and_the_record_keeps_utc(
    drawn: tuple[Path, Path], tmp_path: Path
) -> None:
    config, record = drawn
    data = json.loads(record.read_text("utf-8"))
    assert data["committed_at"].endswith("Z")  # the record is for machines: UTC
    committed = local_time(data["committed_at"], "Asia/Shanghai")
    ran = local_time(data["draws"][0]["run_at"], "Asia/Shanghai")
    shown = run("campaign", "show", "1", config=config).output
    assert f"最近一次 {ran}" in shown and not UTC_ISO.search(shown)
    page = tmp_path / "certificate.html"
    assert run("draw", "certificate", "1", str(page), config=config).exit_code == 0
    html = page.read_text("utf-8")
    assert committed in html and ran in html and not UTC_ISO.search(html)
    as_json = json.loads(run("campaign", "show", "1", "--format", "json", config=config).output)
    assert as_json["draw"]["committed_at"] == data["committed_at"]


def test_plan_show_says_when_the_plan_and_its_needs_were_made_and_decided(
    drawn: tuple[Path, Path],
) -> None:
    config, _ = drawn
    assert run("plan", "create", "2027", config=config).exit_code == 0
    added = run("plan", "add-need", "2027", "--unit", "劳动保障监察大队", "--items",
                "RS-JC-003", "--scope", "全县", "--ratio", "5%", "--timing", "一季度",
                config=config)  # fmt: skip
    need = added.output.strip().splitlines()[-1]
    assert run("plan", "approve", need, "--as", "张凯", config=config).exit_code == 0
    shown = json.loads(run("plan", "show", "2027", "--format", "json", config=config).output)
    for moment in (shown["created_at"], shown["needs"][0]["proposed_at"]):
        assert UTC_ISO.search(moment)
    text = run("plan", "show", "2027", config=config).output
    times = LOCAL_MINUTE.findall(text)
    assert local_time(shown["created_at"], "Asia/Shanghai") in times
    assert local_time(shown["needs"][0]["decided_at"], "Asia/Shanghai") in times
    assert not UTC_ISO.search(text)


def _tamper(record: Path, target: Path, change: str) -> None:
    data = json.loads(record.read_text("utf-8"))
    run_ = data["draws"][0]
    if change == "employer":
        stratum = data["strata"][0]
        stratum["entries"][-1] = stratum["entries"][-1][:-1] + "0"
    elif change == "entropy":
        run_["entropy_values"]["福彩3D"][0] += 1
    elif change == "result":
        run_["teams"][0]["officers"].reverse()
    target.write_text(json.dumps(data, ensure_ascii=False), "utf-8")


@pytest.mark.parametrize("change", ["employer", "entropy", "result"])
def test_a_changed_record_fails_both_verifiers(
    drawn: tuple[Path, Path], tmp_path: Path, change: str
) -> None:
    _, record = drawn
    tampered = tmp_path / f"{change}.json"
    _tamper(record, tampered, change)
    ours = run("draw", "verify", str(tampered))
    assert ours.exit_code == 1 and "不一致" in ours.output
    outsider = _standalone(tmp_path, tampered)
    assert outsider.returncode == 1 and "MISMATCH" in outsider.stdout


def test_second_run_needs_a_reason_and_a_reseed_and_both_are_kept(
    drawn: tuple[Path, Path], tmp_path: Path
) -> None:
    config, _ = drawn
    args = ["draw", "run", "1", "--entropy", "监督人刘艳丽=1,2,3", "--entropy", "福彩3D=4,5,6"]
    refused = run(*args, config=config)
    assert refused.exit_code == 1 and "--reason" in refused.output
    reason = ["--reason", "监督人报数有误，重新摇号"]
    no_seed = run(*args, *reason, config=config)
    assert no_seed.exit_code == 1 and "suiji draw reseed 1" in no_seed.output
    seeded = run("draw", "reseed", "1", *reason, config=config)
    assert seeded.exit_code == 0 and "SHA-256" in seeded.output
    again = run(*args, *reason, config=config)
    assert again.exit_code == 0, again.output
    record = tmp_path / "again.json"
    run("draw", "export", "1", str(record), config=config)
    assert [d["seq"] for d in json.loads(record.read_text("utf-8"))["draws"]] == [1, 2]
    verified = run("draw", "verify", str(record))
    assert verified.exit_code == 0 and "锁定文件 SHA-256" in verified.output


def test_bad_entropy_and_campaign_files_are_messages(
    drawn: tuple[Path, Path], tmp_path: Path
) -> None:
    config, _ = drawn
    result = run("draw", "run", "1", "--entropy", "监督人刘艳丽", "--reason", "x", config=config)
    assert result.exit_code == 1 and "格式不对" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nofficers_per_team = 1\n', "utf-8")
    result = run("campaign", "create", "--file", str(bad), config=config)
    assert result.exit_code == 1 and "实施方案 officers_per_team: 不能小于 2" in result.output
    assert run("campaign", "show", "99", config=config).exit_code == 1
    assert run("draw", "verify", str(tmp_path / "missing.json")).exit_code == 1


def test_plan_commands_create_add_approve_show(drawn: tuple[Path, Path]) -> None:
    config, _ = drawn
    assert run("plan", "create", "2027", config=config).exit_code == 0
    added = run("plan", "add-need", "2027", "--unit", "劳动保障监察大队", "--items",
                "RS-JC-003,RS-JC-006", "--scope", "全县", "--ratio", "5%", "--timing", "一季度",
                config=config)  # fmt: skip
    assert added.exit_code == 0, added.output
    need = added.output.strip().splitlines()[-1]
    refused = run("plan", "approve", need, "--as", "苗静", config=config)
    assert refused.exit_code == 1 and "不是领导" in refused.output
    assert run("plan", "approve", need, "--as", "张凯", config=config).exit_code == 0
    shown = json.loads(run("plan", "show", "2027", "--format", "json", config=config).output)
    assert shown["needs"][0]["state"] == "approved" and shown["needs"][0]["decided_by"] == "张凯"
    assert "已同意" in run("plan", "show", "2027", config=config).output


def test_campaign_notify_sends_the_assignments_again_and_refuses_an_undrawn_one(
    drawn: tuple[Path, Path],
) -> None:
    config, _ = drawn
    sent = run("campaign", "notify", "1", config=config)
    assert sent.exit_code == 0, sent.output
    assert "共 9 人" in sent.output  # three leaders and six members, none has answered
    listed = json.loads(
        run("outbox", "list", "--limit", "100", "--format", "json", config=config).output
    )
    assert len(listed) == 2 * (3 + 6 * 2)  # the draw's messages, then the same again
    refused = run("campaign", "notify", "99", config=config)
    assert refused.exit_code == 1 and "没有编号为 99 的抽查" in refused.output


# --- the record as a chain: re-draws, cut records, what the certificate publishes -------------


@pytest.fixture
def redrawn(drawn: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """The sample campaign drawn twice (a reseed and a reason in between), exported."""
    config, _ = drawn
    reason = ["--reason", "监督人报数有误，重新摇号"]
    assert run("draw", "reseed", "1", *reason, config=config).exit_code == 0
    again = run("draw", "run", "1", "--entropy", "监督人刘艳丽=1,2,3", "--entropy",
                "福彩3D=4,5,6", *reason, config=config)  # fmt: skip
    assert again.exit_code == 0, again.output
    record = tmp_path / "twice.json"
    assert run("draw", "export", "1", str(record), config=config).exit_code == 0
    return config, record


def _edited(record: Path, target: Path, edit: Any) -> Path:
    data = json.loads(record.read_text("utf-8"))
    edit(data)
    target.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return target


def _rechain(data: dict[str, Any], start: int) -> None:
    """Redo every run's chain hash from ``start`` on, as the README says anyone can."""
    for n in range(start, len(data["draws"])):
        run_ = data["draws"][n]
        run_["previous_sha256"] = data["draws"][n - 1]["sha256"]
        run_["sha256"] = run_sha256(run_)


def _choose_second_secret(data: dict[str, Any]) -> None:
    """What an operator who knows the entropy would write: a secret of their choosing for the
    re-draw, with its hash, and results made consistent with it."""
    second = data["draws"][1]
    chosen = "12" * 30
    key, results = recompute(data, second["entropy_values"], chosen)
    second.update(secret=chosen, secret_sha256=sha256_text(chosen), key=key, **results)


def _both_refuse(tmp_path: Path, record: Path, *published: str) -> tuple[str, str]:
    ours = run("draw", "verify", str(record), *published)
    outsider = _standalone(tmp_path, record, *published)
    assert ours.exit_code == 1, ours.output
    assert outsider.returncode == 1, outsider.stdout + outsider.stderr
    assert "Traceback" not in outsider.stderr
    return ours.output, outsider.stdout


def test_a_re_draw_with_a_chosen_secret_and_hash_fails_both_verifiers(
    redrawn: tuple[Path, Path], tmp_path: Path
) -> None:
    _, record = redrawn
    published = json.loads(record.read_text("utf-8"))["draws"][1]["secret_sha256"]
    swapped = _edited(record, tmp_path / "swapped.json", _choose_second_secret)
    ours, outsider = _both_refuse(tmp_path, swapped)
    assert "draws[1].sha256" in ours and "draws[1].sha256" in outsider
    # Even with the chain redone, the chain head is no longer the one the certificate states.
    rechained = _edited(swapped, tmp_path / "rechained.json", lambda d: _rechain(d, 1))
    head = json.loads(record.read_text("utf-8"))["draws"][1]["sha256"]
    ours, outsider = _both_refuse(tmp_path, rechained, "--runs", "2", "--head", head)
    assert "链头" in ours and "chain head" in outsider
    assert published not in rechained.read_text("utf-8")


@pytest.mark.parametrize(
    ("field", "value", "caught"),
    [
        ("reason", "例行重摇", "draws[1].private_sha256"),  # in the run's private part
        ("run_by", "王某", "draws[1].private_sha256"),
        ("run_at", "2026-11-30T00:00:00.000000Z", "draws[1].sha256"),
    ],
)
def test_a_changed_reason_operator_or_time_fails_both_verifiers(
    redrawn: tuple[Path, Path], tmp_path: Path, field: str, value: str, caught: str
) -> None:
    _, record = redrawn

    def edit(d: dict[str, Any]) -> None:
        run_ = d["draws"][1]
        (run_["private"] if field in run_["private"] else run_)[field] = value

    changed = _edited(record, tmp_path / f"{field}.json", edit)
    ours, outsider = _both_refuse(tmp_path, changed)
    assert caught in ours and caught in outsider


def test_a_record_cut_after_run_1_of_2_is_named_so_by_both_verifiers(
    redrawn: tuple[Path, Path], tmp_path: Path
) -> None:
    _, record = redrawn
    full = json.loads(record.read_text("utf-8"))
    cut = _edited(record, tmp_path / "cut.json", lambda d: d["draws"].pop())
    # On its own the shorter record is a true record of one run: both say so, with the run
    # count and chain head a reader compares with the certificate's.
    ours = run("draw", "verify", str(cut))
    outsider = _standalone(tmp_path, cut)
    assert ours.exit_code == 0 and outsider.returncode == 0
    first_head = full["draws"][0]["sha256"]
    assert "摇号次数：1" in ours.output and first_head in ours.output
    assert "runs: 1" in outsider.stdout and first_head in outsider.stdout
    # Given what the certificate published, both know it was cut.
    published = ["--runs", "2", "--head", full["draws"][1]["sha256"]]
    ours_text, outsider_text = _both_refuse(tmp_path, cut, *published)
    assert "在第 1 次摇号后就结束了，证书上是 2 次" in ours_text
    assert "ends after run 1 of 2" in outsider_text
    # The whole record agrees with what was published.
    assert run("draw", "verify", str(record), *published).exit_code == 0
    assert _standalone(tmp_path, record, *published).returncode == 0


def test_a_re_draw_reusing_the_first_secret_fails_both_verifiers(
    redrawn: tuple[Path, Path], tmp_path: Path
) -> None:
    def reuse(data: dict[str, Any]) -> None:
        first, second = data["draws"]
        key, results = recompute(data, second["entropy_values"], first["secret"])
        second.update(secret=first["secret"], secret_sha256=first["secret_sha256"])
        second.update(key=key, **results)
        _rechain(data, 1)

    _, record = redrawn
    ours, outsider = _both_refuse(tmp_path, _edited(record, tmp_path / "reused.json", reuse))
    assert "draws[1].secret_sha256" in ours and "draws[1].secret_sha256" in outsider


# --- the record file's own SHA-256 -----------------------------------------------------------


def test_the_exported_file_hashes_to_the_record_sha256_the_certificate_and_verifiers_print(
    drawn: tuple[Path, Path], tmp_path: Path
) -> None:
    config, record = drawn
    digest = hashlib.sha256(record.read_bytes()).hexdigest()  # what sha256sum / certutil give
    page = tmp_path / "certificate.html"
    assert run("draw", "certificate", "1", str(page), config=config).exit_code == 0
    assert digest in page.read_text("utf-8")
    ours = run("draw", "verify", str(record))
    outsider = _standalone(tmp_path, record)
    assert f"记录文件 SHA-256：{digest}" in ours.output
    assert f"record file: {digest}" in outsider.stdout
    assert "不是导出时的原样" not in ours.output + outsider.stdout


def test_a_re_saved_record_still_verifies_and_both_say_its_bytes_changed(
    drawn: tuple[Path, Path], tmp_path: Path
) -> None:
    _, record = drawn
    exported = hashlib.sha256(record.read_bytes()).hexdigest()
    pretty = tmp_path / "pretty.json"
    text = json.dumps(json.loads(record.read_text("utf-8")), ensure_ascii=False, indent=2)
    pretty.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))  # as an editor re-saves it
    ours = run("draw", "verify", str(pretty))
    outsider = _standalone(tmp_path, pretty)
    assert ours.exit_code == 0 and outsider.returncode == 0
    for said in (ours.output, outsider.stdout):
        assert hashlib.sha256(pretty.read_bytes()).hexdigest() in said
        assert "不是导出时的原样" in said and exported in said


# --- the certificate -------------------------------------------------------------------------


def _certificate(config: Path, tmp_path: Path) -> str:
    page = tmp_path / "certificate.html"
    written = run("draw", "certificate", "1", str(page), config=config)
    assert written.exit_code == 0, written.output
    return page.read_text("utf-8")


def test_the_certificate_leads_with_the_commitment_sha256_and_when_it_was_committed(
    drawn: tuple[Path, Path], tmp_path: Path
) -> None:
    config, record_path = drawn
    record = json.loads(record_path.read_text("utf-8"))
    commitment = commitment_sha256(record)
    html = _certificate(config, tmp_path)
    first_box = html[: html.index("一、")]  # before any detail
    assert "锁定文件 SHA-256" in first_box and commitment in first_box
    assert local_time(record["committed_at"], "Asia/Shanghai") in first_box  # read locally


def test_the_certificate_states_the_run_count_and_chain_head_to_verify_against(
    redrawn: tuple[Path, Path], tmp_path: Path
) -> None:
    config, record_path = redrawn
    record = json.loads(record_path.read_text("utf-8"))
    html = _certificate(config, tmp_path)
    head = record["draws"][-1]["sha256"]
    first_box = html[: html.index("一、")]
    assert "摇号次数" in first_box and "2 次" in first_box and head in first_box
    assert f"--runs 2 --head {head}" in html
    for run_ in record["draws"]:  # each run's published secret hash and its link
        assert run_["secret_sha256"] in html and run_["sha256"] in html


def test_the_certificate_says_why_lottery_numbers_appear_sorted(
    drawn: tuple[Path, Path], tmp_path: Path
) -> None:
    config, _ = drawn
    html = _certificate(config, tmp_path)
    assert "1、3、9" in html  # given as 3,9,1
    assert "RFC 3797" in html and "每个来源的数字按从小到大排列" in html


def test_the_certificate_has_a_signature_block(drawn: tuple[Path, Path], tmp_path: Path) -> None:
    config, record_path = drawn
    record = json.loads(record_path.read_text("utf-8"))
    html = _certificate(config, tmp_path)
    block = html[html.index("签字") :]
    assert "操作员" in block and record["draws"][-1]["private"]["run_by"] in block
    assert "监督人（监督人刘艳丽）" in block and "监督人（核对福彩3D）" in block
    assert "单位（盖章）" in block and record["campaign"]["unit"] in block
    assert "日期" in block


def test_every_name_on_the_certificate_comes_from_the_record_and_its_chain(
    drawn: tuple[Path, Path], tmp_path: Path
) -> None:
    config, record_path = drawn
    run_ = json.loads(record_path.read_text("utf-8"))["draws"][0]
    run_["names"] = {**run_["employer_names"], **run_["private"]["names"]}
    html = _certificate(config, tmp_path)
    shown = [*run_["officer_order"], *(e for t in run_["teams"] for e in t["employers"])]
    shown += [t["leader"] for t in run_["teams"]]
    for key in shown:  # the names at the draw, covered by the run's hash (people's: privately)
        assert run_["names"][key] in html
    # A later rename in the registry does not change what the certificate says was drawn.
    officer = run_["teams"][0]["officers"][0]
    renamed = tmp_path / "renamed.csv"
    exported = run("registry", "export", "officers", str(renamed), config=config)
    assert exported.exit_code == 0, exported.output
    lines = renamed.read_text("utf-8-sig").splitlines()
    lines = [
        line.replace(run_["names"][officer], "改名后") if officer in line else line
        for line in lines
    ]
    renamed.write_text("\n".join(lines) + "\n", "utf-8-sig")
    imported = run(
        "registry", "import", "officers", str(renamed), "--confirm-identity-changes", config=config
    )  # a rename is an identity change: confirmed, as staff would
    assert imported.exit_code == 0, imported.output
    html = _certificate(config, tmp_path)
    assert run_["names"][officer] in html and "改名后" not in html


def test_draw_run_lists_leaders_and_officers_by_name_with_their_certificate_numbers(
    drawn: tuple[Path, Path], tmp_path: Path
) -> None:
    config, _ = drawn
    reason = ["--reason", "监督人报数有误，重新摇号"]
    assert run("draw", "reseed", "1", *reason, config=config).exit_code == 0
    ran = run("draw", "run", "1", "--entropy", "监督人刘艳丽=1,2,3", "--entropy", "福彩3D=4,5,6",
              *reason, config=config)  # fmt: skip
    assert ran.exit_code == 0, ran.output
    record = tmp_path / "named.json"
    assert run("draw", "export", "1", str(record), config=config).exit_code == 0
    last = json.loads(record.read_text("utf-8"))["draws"][-1]
    names = last["private"]["names"]
    for team in last["teams"]:
        assert f"组长 {names[team['leader']]}" in ran.output
        for officer in team["officers"]:
            assert f"{names[officer]}（{officer}）" in ran.output
    first_reserve = last["reserve"][0]
    assert f"递补顺序：{names[first_reserve]}（{first_reserve}）" in ran.output


def test_the_public_record_names_no_one_and_still_verifies_in_both(
    redrawn: tuple[Path, Path], tmp_path: Path
) -> None:
    """The full record (the bureau's) names the sample's people; `draw export --public` drops
    the private parts, `publish scan` finds nothing in it, and both verifiers recompute it."""
    config, full = redrawn
    assert run("publish", "scan", str(full), config=config).exit_code != 0  # names, privately
    public = tmp_path / "public.json"
    exported = run("draw", "export", "1", str(public), "--public", config=config)
    assert exported.exit_code == 0, exported.output
    scanned = run("publish", "scan", str(public), config=config)
    assert scanned.exit_code == 0, scanned.output
    record = json.loads(public.read_text("utf-8"))
    assert "private" not in record and all("private" not in r for r in record["draws"])
    assert "监督人刘艳丽" not in public.read_text("utf-8")  # a witness source goes by 「监督人1」
    head = record["draws"][-1]["sha256"]
    ours = run("draw", "verify", str(public), "--runs", "2", "--head", head)
    assert ours.exit_code == 0, ours.output
    assert "未随记录公布" in ours.output
    outsider = _standalone(tmp_path, public, "--runs", "2", "--head", head)
    assert outsider.returncode == 0, outsider.stdout
    assert "0 of 3 given" in outsider.stdout
    html = tmp_path / "public.html"
    assert run("draw", "certificate", "1", str(html), "--public", config=config).exit_code == 0
    page = html.read_text("utf-8")
    assert hashlib.sha256(public.read_bytes()).hexdigest() in page
    assert run("publish", "scan", str(html), config=config).exit_code == 0


def test_the_public_record_and_certificate_are_scanned_before_they_are_written(
    tmp_path: Path,
) -> None:
    """`--public` files are the ones to publish: a lottery source checked by someone who was
    registered only after the draw (the plan's check at creation could not know the name) puts
    a registry person in them, so both are refused naming the place, and nothing is written."""
    directory = tmp_path / "bureau"
    assert run("init", str(directory), "--sample").exit_code == 0
    config = directory / "suiji.toml"
    example = tmp_path / "campaign.toml"
    source = run("campaign", "example").output.replace("开奖号码", "开奖号码，王建国核对")
    example.write_text(source, "utf-8")
    assert run("campaign", "create", "--file", str(example), config=config).exit_code == 0
    assert run("draw", "commit", "1", config=config).exit_code == 0
    ran = run("draw", "run", "1", "--entropy", "监督人刘艳丽=7,42,88",
              "--entropy", "福彩3D=3,9,1", config=config)  # fmt: skip
    assert ran.exit_code == 0, ran.output
    with sqlite3.connect(directory / "suiji.db") as db:
        db.execute(
            "INSERT INTO people (name, unit_id, is_officer, is_leader, is_admin, is_witness,"
            " team_leader_eligible, specialties) VALUES ('王建国', 1, 0, 0, 0, 1, 0, '[]')"
        )
    record, page = tmp_path / "public.json", tmp_path / "public.html"
    for args, written in ((["export", "1", str(record)], record),
                          (["certificate", "1", str(page)], page)):  # fmt: skip
        refused = run("draw", *args, "--public", config=config)
        assert refused.exit_code == 1, refused.output
        assert "人员姓名：王**" in refused.output and "王建国" not in refused.output
        assert not written.exists()
    full = tmp_path / "full.json"  # the bureau's own record is not for publishing: no scan
    assert run("draw", "export", "1", str(full), config=config).exit_code == 0
