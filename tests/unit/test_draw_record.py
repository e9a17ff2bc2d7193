"""Draw records: a built record recomputes in both verifiers, and any tampering is caught."""

from __future__ import annotations

import ast
import copy
import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.draw.engine import Stratum, run_draw, stratum_count
from bot.draw.record import (
    RECORD_FORMAT,
    Difference,
    against_published,
    canonical,
    chained,
    commitment_document,
    commitment_sha256,
    draw_key,
    first_difference,
    pool_digest,
    private_parts,
    public_record,
    recompute,
    result_json,
    sha256_text,
    strata_from_json,
    with_private,
)
from bot.draw.rfc3797 import ALGORITHMS, RFC3797_SHA256, format_key, select
from bot.registry.uscc import check_character
from bot.workflows.campaigns import public_sources
from tests.helpers import make_uscc

VERIFY_PY = Path(__file__).resolve().parents[2] / "templates" / "draw" / "verify.py"
RUN_AT = "2026-12-01T00:00:00.000000Z"
SECRET = "83520948723049823740928374098237409823740982374"
SOURCES = [
    {"name": "监督人刘艳丽", "kind": "witness", "description": "三个数"},
    {"name": "福彩3D", "kind": "lottery", "description": "2026年11月30日开奖号码"},
]
VALUES = {"监督人刘艳丽": [7, 42, 13], "福彩3D": [3, 0, 9]}
OTHER_VALUES = {"监督人刘艳丽": [8, 42, 13], "福彩3D": [3, 0, 9]}


def load_verifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location("suiji_standalone_verify", VERIFY_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


verifier = load_verifier()


def certificate(n: int) -> str:
    return f"豫411422{n:05d}"


def build_record(
    *,
    strata: Sequence[Stratum],
    officers: Sequence[str],
    leaders: Sequence[str],
    teams: int | None,
    per_team: int,
    recusals: Sequence[tuple[str, str]] = (),
    algorithm: str = RFC3797_SHA256,
    sources: Sequence[dict[str, Any]] = tuple(SOURCES),
    runs: Sequence[tuple[dict[str, list[int]], str | None]] = ((VALUES, None),),
    secret: str = SECRET,
) -> dict[str, Any]:
    """A record as suiji builds it: commitment document, then a run dict per draw."""
    commitment = commitment_document(
        campaign={
            "id": 1,
            "name": "2026年12月工资支付专项抽查",
            "unit": "劳动保障监察大队",
            "items": [{"code": "RS-JC-003", "version": 1, "name": "工资支付情况"}],
            "start": "2026-12-01",
            "end": "2026-12-31",
            "officers_per_team": per_team,
            "teams": teams,
            "confidential": False,
        },
        algorithm=algorithm,
        strata=strata,
        officers=officers,
        leaders=leaders,
        recusals=recusals,
        sources=list(sources),
        secret_sha256=sha256_text(secret),
        committed_at=RUN_AT,
        private={"salt": "5a17", "committed_by": "tester", "officer_exclusions": {}},
    )
    document = json.loads(canonical(commitment))  # stored as canonical JSON, read back
    draws: list[dict[str, Any]] = []
    previous = commitment_sha256(document)
    for seq, (values, reason) in enumerate(runs, start=1):
        # A re-draw reveals a secret of its own, committed at its reseed.
        run_secret = secret if seq == 1 else str(int(secret) + seq)
        key, results = recompute(document, values, run_secret)
        employers = sorted(e for team in results["teams"] for e in team["employers"])
        run = with_private(
            {
                "seq": seq,
                "run_at": RUN_AT,
                "entropy_values": {name: sorted(values[name]) for name in values},
                "secret": run_secret,
                "secret_sha256": sha256_text(run_secret),
                "key": key,
                **results,
                "employer_names": {e: f"某某公司{n}" for n, e in enumerate(employers)},
            },
            {
                "salt": f"{seq:032x}",
                "run_by": "tester",
                "reason": reason,
                "names": {o: "某执法人员" for o in results["officer_order"]},
            },
        )
        draws.append(json.loads(canonical(chained(run, previous))))
        previous = draws[-1]["sha256"]
    record = dict(document)
    record["draws"] = draws
    return record


def base_strata() -> list[Stratum]:
    usccs = sorted(make_uscc(1000 + 37 * n) for n in range(24))
    return [
        Stratum("high_risk", Decimal(30), 2, tuple(sorted(usccs[0:8]))),  # 3 of 8
        Stratum("grade_c", Decimal(15), 0, tuple(sorted(usccs[8:19]))),  # 2 of 11
        Stratum("ungraded", Decimal(5), 0, tuple(sorted(usccs[19:24]))),  # 1 of 5
    ]


OFFICERS = [certificate(n) for n in range(200, 214)]
LEADERS = ["豫41142200229", "豫41142200407"]


def base_record(
    runs: Sequence[tuple[dict[str, list[int]], str | None]] = ((VALUES, None),),
) -> dict[str, Any]:
    """Two teams of two; the first officer drawn is recused from an employer of team 1."""
    plain = build_record(
        strata=base_strata(), officers=OFFICERS, leaders=LEADERS, teams=2, per_team=2
    )
    first = plain["draws"][0]["officer_order"][0]
    employer = plain["draws"][0]["teams"][0]["employers"][0]
    return build_record(
        strata=base_strata(),
        officers=OFFICERS,
        leaders=LEADERS,
        teams=2,
        per_team=2,
        recusals=[(first, employer)],
        runs=runs,
    )


@pytest.fixture(scope="module")
def record() -> dict[str, Any]:
    return base_record()


TWICE = base_record(runs=[(VALUES, None), (OTHER_VALUES, "监督人报数有误，经批准重新摇号")])


def standalone_ok(record: dict[str, Any]) -> bool:
    try:
        verifier.verify(record)
    except verifier.Mismatch:
        return False
    return True


def run_standalone(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFY_PY), str(path), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


# --- a genuine record ------------------------------------------------------------------------


def test_record_holds_what_is_needed_to_recompute(record: dict[str, Any]) -> None:
    assert record["format"] == RECORD_FORMAT
    assert [s["count"] for s in record["strata"]] == [3, 2, 1]
    assert record["strata"][0]["ratio"] == "30"
    assert record["officers"]["entries"] == OFFICERS
    assert record["officers"]["sha256"] == pool_digest(OFFICERS)
    all_usccs = sorted(e for s in record["strata"] for e in s["entries"])
    assert record["employer_pool_sha256"] == pool_digest(all_usccs)
    assert record["secret_sha256"] == sha256_text(SECRET)
    run = record["draws"][0]
    assert run["key"] == format_key([VALUES["监督人刘艳丽"], VALUES["福彩3D"], [int(SECRET)]])
    assert run["key"] == draw_key(SOURCES, VALUES, SECRET)


def test_the_recusal_in_the_base_record_takes_effect(record: dict[str, Any]) -> None:
    run = record["draws"][0]
    (officer, employer), *_ = record["recusals"]
    assert employer in run["teams"][0]["employers"]
    assert officer == run["officer_order"][0]
    assert officer not in run["teams"][0]["officers"]
    assert officer in run["teams"][1]["officers"]  # kept first place for team 2


def test_pool_digest_is_sha256_of_lines_without_final_newline() -> None:
    assert pool_digest(["a", "b"]) == sha256_text("a\nb")
    assert pool_digest([]) == sha256_text("")


def test_built_record_verifies_in_suiji(record: dict[str, Any]) -> None:
    assert first_difference(record) is None


def test_built_record_verifies_in_the_standalone_verifier(record: dict[str, Any]) -> None:
    assert len(verifier.verify(copy.deepcopy(record))) == 2  # the commitment, then one run


def test_standalone_verifier_says_ok_as_a_program(record: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    path.write_text(canonical(record), encoding="utf-8")
    done = run_standalone(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("OK")


def test_record_with_a_second_run_for_a_reason_verifies() -> None:
    record = base_record(runs=[(VALUES, None), (OTHER_VALUES, "监督人报数有误，经批准重新摇号")])
    assert [r["seq"] for r in record["draws"]] == [1, 2]
    assert record["draws"][1]["private"]["reason"]
    assert record["draws"][0]["key"] != record["draws"][1]["key"]
    assert record["draws"][0]["picks"] != record["draws"][1]["picks"]
    assert first_difference(record) is None
    assert len(verifier.verify(record)) == 3


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_record_with_one_team_per_employer_verifies(algorithm: str) -> None:
    strata = base_strata()
    employers = sum(s.count for s in strata)
    record = build_record(
        strata=strata,
        officers=OFFICERS,
        leaders=[certificate(n) for n in range(employers)],
        teams=None,
        per_team=2,
        algorithm=algorithm,
    )
    assert len(record["draws"][0]["teams"]) == employers
    assert first_difference(record) is None
    assert standalone_ok(record)


def test_record_with_a_short_team_verifies_and_says_so() -> None:
    strata = [Stratum("high_risk", Decimal(100), 0, (make_uscc(5),))]
    officers = [certificate(n) for n in range(3)]
    recusals = [(officers[0], make_uscc(5)), (officers[1], make_uscc(5))]
    record = build_record(
        strata=strata,
        officers=officers,
        leaders=LEADERS[:1],
        teams=1,
        per_team=2,
        recusals=recusals,
    )
    team = record["draws"][0]["teams"][0]
    assert team["officers"] == [officers[2]]
    assert team["short_by"] == 1
    assert first_difference(record) is None
    assert standalone_ok(record)


# --- tampering -------------------------------------------------------------------------------


def picked_position(record: dict[str, Any], stratum: int) -> int:
    label = record["strata"][stratum]["label"]
    return int(record["draws"][0]["picks"][label][0]["position"]) - 1


def unpicked_position(record: dict[str, Any], stratum: int) -> int:
    label = record["strata"][stratum]["label"]
    picked = {p["position"] - 1 for p in record["draws"][0]["picks"][label]}
    return min(set(range(len(record["strata"][stratum]["entries"]))) - picked)


def other_uscc(uscc: str) -> str:
    """A different valid USCC that sorts into the same place (only the check digit moves)."""
    body = uscc[:16] + ("1" if uscc[16] != "1" else "2")
    return body + check_character(body)


def change_picked_employer(r: dict[str, Any]) -> None:
    i = picked_position(r, 0)
    r["strata"][0]["entries"][i] = other_uscc(r["strata"][0]["entries"][i])


def change_unpicked_employer(r: dict[str, Any]) -> None:
    i = unpicked_position(r, 1)
    r["strata"][1]["entries"][i] = other_uscc(r["strata"][1]["entries"][i])


def replace_employer_out_of_order(r: dict[str, Any]) -> None:
    r["strata"][2]["entries"][0] = "9" * 18


def change_officer(r: dict[str, Any]) -> None:
    r["officers"]["entries"][3] = certificate(999)


def change_entropy_value(r: dict[str, Any]) -> None:
    r["draws"][0]["entropy_values"]["福彩3D"][0] += 1


def change_secret(r: dict[str, Any]) -> None:
    r["draws"][0]["secret"] = str(int(SECRET) + 1)


def change_key(r: dict[str, Any]) -> None:
    r["draws"][0]["key"] = r["draws"][0]["key"].replace("42.", "43.")


def swap_two_picks(r: dict[str, Any]) -> None:
    picks = r["draws"][0]["picks"]["high_risk"]
    picks[0], picks[1] = picks[1], picks[0]


def swap_pick_entries_only(r: dict[str, Any]) -> None:
    picks = r["draws"][0]["picks"]["high_risk"]
    picks[0]["entry"], picks[1]["entry"] = picks[1]["entry"], picks[0]["entry"]


def change_team_employers(r: dict[str, Any]) -> None:
    teams = r["draws"][0]["teams"]
    teams[0]["employers"][0], teams[1]["employers"][0] = (
        teams[1]["employers"][0],
        teams[0]["employers"][0],
    )


def change_team_officers(r: dict[str, Any]) -> None:
    team = r["draws"][0]["teams"][1]
    team["officers"][0] = r["draws"][0]["reserve"][0]


def seat_the_recused_officer(r: dict[str, Any]) -> None:
    run = r["draws"][0]
    officer = r["recusals"][0][0]
    run["teams"][0]["officers"][0] = officer


def reverse_reserve(r: dict[str, Any]) -> None:
    r["draws"][0]["reserve"].reverse()


def drop_last_reserve(r: dict[str, Any]) -> None:
    r["draws"][0]["reserve"].pop()


def add_an_extra_pick(r: dict[str, Any]) -> None:
    picks = r["draws"][0]["picks"]["ungraded"]
    entries = r["strata"][2]["entries"]
    unpicked = unpicked_position(r, 2)
    picks.append({"index": len(picks) + 1, "position": unpicked + 1, "entry": entries[unpicked]})


def swap_officer_order(r: dict[str, Any]) -> None:
    order = r["draws"][0]["officer_order"]
    order[-1], order[-2] = order[-2], order[-1]


def change_stratum_count(r: dict[str, Any]) -> None:
    r["strata"][1]["count"] += 1


def change_stratum_ratio(r: dict[str, Any]) -> None:
    r["strata"][0]["ratio"] = "50"


def change_stratum_digest(r: dict[str, Any]) -> None:
    r["strata"][0]["sha256"] = sha256_text("something else")


def change_stratum_size(r: dict[str, Any]) -> None:
    r["strata"][2]["size"] += 1


def change_officer_pool_digest(r: dict[str, Any]) -> None:
    r["officers"]["sha256"] = sha256_text("something else")


def change_employer_pool_digest(r: dict[str, Any]) -> None:
    r["employer_pool_sha256"] = sha256_text("something else")


def change_leader(r: dict[str, Any]) -> None:
    r["leaders"][0] = "豫41142200999"


def change_short_by(r: dict[str, Any]) -> None:
    r["draws"][0]["teams"][0]["short_by"] = 1


def drop_a_recusal(r: dict[str, Any]) -> None:
    r["recusals"] = []


def change_officers_per_team(r: dict[str, Any]) -> None:
    r["campaign"]["officers_per_team"] = 3


def change_algorithm(r: dict[str, Any]) -> None:
    r["algorithm"] = "rfc3797"


def change_format(r: dict[str, Any]) -> None:
    r["format"] = "suiji-draw-record/0"


def add_altered_second_run(r: dict[str, Any]) -> None:
    second = copy.deepcopy(r["draws"][0])
    second["seq"], second["reason"] = 2, "重新摇号"
    second["entropy_values"] = copy.deepcopy(OTHER_VALUES)
    second["key"] = draw_key(r["entropy_sources"], OTHER_VALUES, SECRET)
    # Right key, but the results of the first run kept: they cannot all still hold.
    r["draws"].append(second)


def add_second_run_with_swapped_reserve(r: dict[str, Any]) -> None:
    second = copy.deepcopy(TWICE["draws"][1])
    second["reserve"].reverse()
    r["draws"].append(second)


def change_reason(r: dict[str, Any]) -> None:
    r["draws"][0]["private"]["reason"] = "例行重摇"


def change_run_by(r: dict[str, Any]) -> None:
    r["draws"][0]["private"]["run_by"] = "someone else"


def change_committed_by(r: dict[str, Any]) -> None:
    r["private"]["committed_by"] = "someone else"


def change_an_employer_name(r: dict[str, Any]) -> None:
    first = next(iter(r["draws"][0]["employer_names"]))
    r["draws"][0]["employer_names"][first] = "另一家公司"


def change_a_run_digest_of_its_private_part(r: dict[str, Any]) -> None:
    r["draws"][0]["private_sha256"] = sha256_text("other names")


def drop_the_commitment_digest_of_its_private_part(r: dict[str, Any]) -> None:
    del r["private_sha256"]


def change_run_at(r: dict[str, Any]) -> None:
    r["draws"][0]["run_at"] = "2026-11-30T00:00:00.000000Z"


def change_seq(r: dict[str, Any]) -> None:
    r["draws"][0]["seq"] = 2


def change_previous_link(r: dict[str, Any]) -> None:
    r["draws"][0]["previous_sha256"] = sha256_text("another commitment")


def change_chain_hash(r: dict[str, Any]) -> None:
    r["draws"][0]["sha256"] = sha256_text("another run")


def change_a_name_in_a_run(r: dict[str, Any]) -> None:
    r["draws"][0]["private"]["names"] = {OFFICERS[0]: "someone"}


def reuse_the_first_secret(r: dict[str, Any]) -> None:
    """A re-draw made honestly from the first run's secret, which was public by then."""
    first = r["draws"][0]
    values = OTHER_VALUES
    key, results = recompute(r, values, first["secret"])
    second = {**first, "seq": 2, "reason": "重新摇号", "entropy_values": values, "key": key}
    r["draws"].append(chained({**second, **results}, first["sha256"]))


TAMPERINGS: list[tuple[Callable[[dict[str, Any]], None], str]] = [
    (change_picked_employer, "strata[0]."),
    (change_unpicked_employer, "strata[1]."),
    (replace_employer_out_of_order, "strata[2].entries"),
    (change_officer, "officers."),
    (change_entropy_value, "draws[0].key"),
    (change_secret, "draws[0].secret"),
    (change_key, "draws[0].key"),
    (swap_two_picks, "draws[0].picks.high_risk[0]"),
    (swap_pick_entries_only, "draws[0].picks.high_risk[0].entry"),
    (change_team_employers, "draws[0].teams[0].employers[0]"),
    (change_team_officers, "draws[0].teams[1].officers[0]"),
    (seat_the_recused_officer, "draws[0].teams[0].officers[0]"),
    (reverse_reserve, "draws[0].reserve[0]"),
    (drop_last_reserve, "draws[0].reserve.length"),
    (add_an_extra_pick, "draws[0].picks.ungraded.length"),
    (swap_officer_order, "draws[0].officer_order["),
    (change_stratum_count, "strata[1].count"),
    (change_stratum_ratio, "strata[0].count"),
    (change_stratum_digest, "strata[0].sha256"),
    (change_stratum_size, "strata[2].size"),
    (change_officer_pool_digest, "officers.sha256"),
    (change_employer_pool_digest, "employer_pool_sha256"),
    (change_leader, "draws[0].teams[0].leader"),
    (change_short_by, "draws[0].teams[0].short_by"),
    (drop_a_recusal, "draws[0].teams[0].officers"),
    (change_officers_per_team, "draws[0].teams[0]"),
    (change_algorithm, "draws[0].picks."),
    (change_format, "format"),
    (add_altered_second_run, "draws[1]."),
    (add_second_run_with_swapped_reserve, "draws[1].reserve[0]"),
    (change_reason, "draws[0].private_sha256"),
    (change_run_by, "draws[0].private_sha256"),
    (change_committed_by, "private_sha256"),
    (change_an_employer_name, "draws[0].sha256"),
    (change_a_run_digest_of_its_private_part, "draws[0].private_sha256"),
    (drop_the_commitment_digest_of_its_private_part, "private_sha256"),
    (change_run_at, "draws[0].sha256"),
    (change_seq, "draws[0].seq"),
    (change_previous_link, "draws[0].previous_sha256"),
    (change_chain_hash, "draws[0].sha256"),
    (change_a_name_in_a_run, "draws[0].private_sha256"),
    (reuse_the_first_secret, "draws[1].secret_sha256"),
]


def tampered(record: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    copied = copy.deepcopy(record)
    change(copied)
    assert copied != record, "the tampering must change something"
    return copied


@pytest.mark.parametrize(
    ("change", "path"), TAMPERINGS, ids=[change.__name__ for change, _ in TAMPERINGS]
)
def test_suiji_names_the_first_difference_of_a_tampered_record(
    record: dict[str, Any], change: Callable[[dict[str, Any]], None], path: str
) -> None:
    difference = first_difference(tampered(record, change))
    assert isinstance(difference, Difference)
    assert difference.path.startswith(path), difference
    assert difference.expected != difference.found


@pytest.mark.parametrize(
    ("change", "path"), TAMPERINGS, ids=[change.__name__ for change, _ in TAMPERINGS]
)
def test_standalone_verifier_rejects_a_tampered_record(
    record: dict[str, Any], change: Callable[[dict[str, Any]], None], path: str
) -> None:
    with pytest.raises(verifier.Mismatch):
        verifier.verify(tampered(record, change))


def test_key_tampering_is_named_by_both_verifiers(record: dict[str, Any]) -> None:
    bad = tampered(record, change_key)
    difference = first_difference(bad)
    assert difference is not None
    assert difference.path == "draws[0].key"
    assert difference.expected == record["draws"][0]["key"]
    with pytest.raises(verifier.Mismatch, match=r"^draws\[0\]\.key"):
        verifier.verify(bad)


def test_standalone_program_exits_1_on_a_tampered_record(
    record: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "tampered.json"
    path.write_text(canonical(tampered(record, change_picked_employer)), encoding="utf-8")
    done = run_standalone(path)
    assert done.returncode == 1
    assert "不一致 MISMATCH" in done.stdout
    assert "Traceback" not in done.stderr


def test_a_changed_picked_employer_is_caught_even_with_digests_redone(
    record: dict[str, Any],
) -> None:
    def consistent_swap(r: dict[str, Any]) -> None:
        change_picked_employer(r)
        s = r["strata"][0]
        s["sha256"] = pool_digest(s["entries"])
        every = sorted(e for t in r["strata"] for e in t["entries"])
        r["employer_pool_sha256"] = pool_digest(every)

    bad = tampered(record, consistent_swap)
    difference = first_difference(bad)
    assert difference is not None
    assert difference.path.startswith("draws[0].picks.high_risk[0].entry")
    assert not standalone_ok(bad)


def test_an_employer_in_two_strata_is_refused_by_both(record: dict[str, Any]) -> None:
    def duplicate(r: dict[str, Any]) -> None:
        extra = r["strata"][0]["entries"][0]
        s = r["strata"][2]
        s["entries"] = sorted([*s["entries"], extra])
        s["size"] = len(s["entries"])
        s["sha256"] = pool_digest(s["entries"])
        s["count"] = stratum_count(s["size"], Decimal(s["ratio"]), s["minimum"])

    bad = tampered(record, duplicate)
    assert first_difference(bad) is not None
    assert not standalone_ok(bad)


def add_undeclared_source(r: dict[str, Any]) -> None:
    r["draws"][0]["entropy_values"]["临时监督人"] = [5]


def test_standalone_verifier_refuses_an_entropy_value_for_an_undeclared_source(
    record: dict[str, Any],
) -> None:
    with pytest.raises(verifier.Mismatch, match="entropy_values"):
        verifier.verify(tampered(record, add_undeclared_source))


def test_suiji_refuses_an_entropy_value_for_an_undeclared_source(
    record: dict[str, Any],
) -> None:
    difference = first_difference(tampered(record, add_undeclared_source))
    assert difference is not None
    assert difference.path.startswith("draws[0].entropy_values")


def test_both_verifiers_refuse_a_run_missing_a_declared_source(record: dict[str, Any]) -> None:
    def drop_source(r: dict[str, Any]) -> None:
        del r["draws"][0]["entropy_values"]["福彩3D"]

    bad = tampered(record, drop_source)
    difference = first_difference(bad)
    assert difference is not None
    assert difference.path.startswith("draws[0].entropy_values")
    with pytest.raises(verifier.Mismatch, match="entropy_values"):
        verifier.verify(bad)


def forged_record(lottery: list[Any]) -> dict[str, Any]:
    """A record made self-consistent around entropy values that suiji never accepts at run."""
    record = base_record()
    run = record["draws"][0]
    run["entropy_values"]["福彩3D"] = lottery
    values = [run["entropy_values"][s["name"]] for s in record["entropy_sources"]]
    key = "".join("".join(f"{n}." for n in sorted(v)) + "/" for v in values) + f"{SECRET}./"
    campaign = record["campaign"]
    result = run_draw(
        record["algorithm"],
        key,
        strata_from_json(record["strata"]),
        record["officers"]["entries"],
        record["leaders"],
        campaign["teams"],
        campaign["officers_per_team"],
        frozenset((o, e) for o, e in record["recusals"]),
    )
    run.update(key=key, **result_json(result, campaign["officers_per_team"]))
    record["draws"][0] = chained(run, run["previous_sha256"])  # the chain redone, as a forger would
    return record


def suiji_refuses(record: dict[str, Any]) -> bool:
    """A difference named, or the record refused as unreadable, as `suiji draw verify` does
    (an unknown algorithm, a stratum label the picks do not have)."""
    try:
        return first_difference(record) is not None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return True


@pytest.mark.parametrize(
    "lottery",
    [
        pytest.param([-3, 0, 9], id="negative"),
        pytest.param([], id="empty"),
        pytest.param([True, 0, 9], id="boolean"),
        pytest.param([1.5, 0, 9], id="fraction"),
    ],
)
def test_both_verifiers_refuse_entropy_values_suiji_never_accepts(lottery: list[Any]) -> None:
    record = forged_record(lottery)
    assert not standalone_ok(record)
    assert suiji_refuses(record)


def test_forged_record_helper_gives_a_verifying_record_for_honest_values() -> None:
    record = forged_record([9, 0, 3])
    assert first_difference(record) is None
    assert standalone_ok(record)


# --- malformed records -----------------------------------------------------------------------


def remove(*path: str | int) -> Callable[[dict[str, Any]], None]:
    def change(r: dict[str, Any]) -> None:
        target: Any = r
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    change.__name__ = "remove_" + "_".join(str(p) for p in path)
    return change


MISSING_KEYS = [
    remove("strata"),
    remove("draws"),
    remove("officers"),
    remove("campaign"),
    remove("leaders"),
    remove("recusals"),
    remove("entropy_sources"),
    remove("secret_sha256"),
    remove("employer_pool_sha256"),
    remove("algorithm"),
    remove("strata", 0, "entries"),
    remove("strata", 0, "minimum"),
    remove("officers", "entries"),
    remove("campaign", "teams"),
    remove("campaign", "officers_per_team"),
    remove("draws", 0, "secret"),
    remove("draws", 0, "entropy_values"),
    remove("draws", 0, "picks"),
    remove("draws", 0, "reserve"),
    remove("draws", 0, "teams"),
    remove("draws", 0, "key"),
]


@pytest.mark.parametrize("change", MISSING_KEYS, ids=[c.__name__ for c in MISSING_KEYS])
def test_standalone_verifier_reports_missing_keys_as_unreadable(
    record: dict[str, Any],
    change: Callable[[dict[str, Any]], None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(canonical(tampered(record, change)), encoding="utf-8")
    assert verifier.main(["verify.py", str(path)]) == 1
    assert "UNREADABLE" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{", "UNREADABLE"),  # not JSON
        (b"\xff\xfe{}", "UNREADABLE"),  # not UTF-8
        (b"{}", "MISMATCH"),  # no format
        (json.dumps({"format": "suiji-draw-record/9"}).encode(), "MISMATCH"),
        (json.dumps({"format": RECORD_FORMAT}).encode(), "UNREADABLE"),
    ],
)
def test_standalone_verifier_reports_broken_files(
    content: bytes, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    assert verifier.main(["verify.py", str(path)]) == 1
    assert says in capsys.readouterr().out


def test_standalone_verifier_reports_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verifier.main(["verify.py", str(tmp_path / "absent.json")]) == 1
    assert "UNREADABLE" in capsys.readouterr().out


def test_standalone_verifier_needs_exactly_one_argument() -> None:
    assert verifier.main(["verify.py"]) == 2


def test_standalone_program_reports_a_top_level_array_without_a_traceback(
    tmp_path: Path,
) -> None:
    path = tmp_path / "array.json"
    path.write_text("[]", encoding="utf-8")
    done = run_standalone(path)
    assert done.returncode == 1
    assert "UNREADABLE" in done.stdout
    assert "Traceback" not in done.stderr


def test_standalone_program_reports_missing_keys_without_a_traceback(
    record: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(canonical(tampered(record, remove("draws", 0, "secret"))), encoding="utf-8")
    done = run_standalone(path)
    assert done.returncode == 1
    assert "UNREADABLE" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "make_text",
    [
        lambda r: "[]",
        lambda r: canonical({**r, "draws": [{**r["draws"][0], "secret": 12345}]}),
        lambda r: canonical({**r, "strata": [{**r["strata"][0], "label": 7}, *r["strata"][1:]]}),
    ],
    ids=["top-level-array", "numeric-secret", "numeric-label"],
)
def test_standalone_verifier_reports_wrongly_typed_records_as_unreadable(
    record: dict[str, Any],
    make_text: Callable[[dict[str, Any]], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(make_text(record), encoding="utf-8")
    assert verifier.main(["verify.py", str(path)]) == 1
    assert "UNREADABLE" in capsys.readouterr().out


# --- the standalone verifier as a file -------------------------------------------------------


def test_standalone_verifier_is_under_270_lines() -> None:
    # Short enough to read before running it; v3's private parts took it past 250.
    assert len(VERIFY_PY.read_text(encoding="utf-8").splitlines()) < 270


def test_standalone_verifier_imports_only_the_standard_library() -> None:
    tree = ast.parse(VERIFY_PY.read_text(encoding="utf-8"))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            assert node.module is not None
            modules.add(node.module.split(".")[0])
    assert modules  # it does import something (hashlib at least)
    assert modules <= sys.stdlib_module_names
    assert "bot" not in modules


def test_standalone_verifier_does_not_import_suiji_at_run_time() -> None:
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('bot', 'storage')))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code, str(VERIFY_PY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- the standalone verifier agrees with suiji's code ----------------------------------------


@given(
    algorithm=st.sampled_from(ALGORITHMS),
    key=st.text(max_size=30),
    label=st.text(max_size=10),
    data=st.data(),
)
@settings(max_examples=80, deadline=None)
def test_standalone_select_agrees_with_suiji(
    algorithm: str, key: str, label: str, data: st.DataObject
) -> None:
    size = data.draw(st.integers(0, 300))
    count = data.draw(st.integers(0, size))
    assert verifier.select(algorithm, key, size, count, label) == list(
        select(algorithm, key, size, count, label)
    )


@given(
    size=st.integers(0, 5000),
    ratio=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100), places=2),
    minimum=st.integers(0, 20),
)
@settings(max_examples=150, deadline=None)
def test_standalone_count_agrees_with_suiji(size: int, ratio: Decimal, minimum: int) -> None:
    written = f"{ratio.normalize():f}"  # as the record writes it
    assert verifier.count(size, written, minimum) == stratum_count(size, ratio, minimum)


def test_counts_agree_for_a_ratio_with_many_digits() -> None:
    ratio = "50.00000000000000000000000000001"
    assert stratum_count(2, Decimal(ratio), 0) == verifier.count(2, ratio, 0) == 2


@given(st.lists(st.lists(st.integers(0, 10**12), min_size=1, max_size=6), max_size=5))
@settings(max_examples=60, deadline=None)
def test_standalone_key_agrees_with_suiji(sources: list[list[int]]) -> None:
    assert verifier.make_key(sources) == format_key(sources)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    numbers = draw(st.lists(st.integers(0, 10**6), unique=True, min_size=1, max_size=40))
    usccs = sorted(make_uscc(n) for n in numbers)
    cuts = sorted(draw(st.lists(st.integers(0, len(usccs)), min_size=2, max_size=2)))
    parts = [usccs[: cuts[0]], usccs[cuts[0] : cuts[1]], usccs[cuts[1] :]]
    strata = [
        Stratum(
            label,
            draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100), places=2)),
            draw(st.integers(0, 3)),
            tuple(part),
        )
        for label, part in zip(("high_risk", "grade_c", "ungraded"), parts, strict=True)
    ]
    drawn = sum(s.count for s in strata)
    teams = draw(st.none() | st.integers(1, 4))
    total = drawn if teams is None else teams
    per_team = draw(st.integers(2, 3))
    officers = sorted(
        certificate(n)
        for n in draw(
            st.lists(
                st.integers(0, 99_999),
                unique=True,
                min_size=max(1, total * per_team - 1),  # sometimes one short
                max_size=total * per_team + 6,
            )
        )
    )
    recusals = draw(
        st.lists(st.tuples(st.sampled_from(officers), st.sampled_from(usccs)), max_size=8)
    )
    values = {
        s["name"]: draw(st.lists(st.integers(0, 10**6), min_size=1, max_size=6)) for s in SOURCES
    }
    secret = str(draw(st.integers(0, 2**256)))
    return build_record(
        strata=strata,
        officers=officers,
        leaders=[certificate(90_000 + t) for t in range(total)],
        teams=teams,
        per_team=per_team,
        recusals=sorted(set(recusals)),
        algorithm=draw(st.sampled_from(ALGORITHMS)),
        runs=[(values, None)],
        secret=secret,
    )


@given(records())
@settings(max_examples=40, deadline=None)
def test_any_built_record_verifies_in_both(record: dict[str, Any]) -> None:
    assert first_difference(record) is None
    assert len(verifier.verify(record)) == 2


@given(records(), st.data())
@settings(max_examples=40, deadline=None)
def test_any_changed_result_fails_in_both(record: dict[str, Any], data: st.DataObject) -> None:
    run = record["draws"][0]
    officers = record["officers"]["entries"]
    choices = ["officer_order"] if len(officers) >= 2 else []
    if any(run["picks"].values()):
        choices.append("pick")
    if any(t["officers"] for t in run["teams"]):
        choices.append("team_officer")
    if not choices:
        return
    what = data.draw(st.sampled_from(choices))
    if what == "officer_order":
        order = run["officer_order"]
        i = data.draw(st.integers(0, len(order) - 2))
        order[i], order[i + 1] = order[i + 1], order[i]
    elif what == "pick":
        label = data.draw(st.sampled_from([k for k, v in run["picks"].items() if v]))
        pick = data.draw(st.sampled_from(run["picks"][label]))
        pick["position"] += 1
    else:
        team = data.draw(st.sampled_from([t for t in run["teams"] if t["officers"]]))
        team["officers"][0] = "伪造" + team["officers"][0]
    assert first_difference(record) is not None
    assert not standalone_ok(record)


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: r["draws"][0]["teams"][0].__setitem__("short_by", False),  # False == 0
        lambda r: r["draws"][0]["picks"]["high_risk"][0].__setitem__(
            "position", float(r["draws"][0]["picks"]["high_risk"][0]["position"])
        ),
        lambda r: r["campaign"].__setitem__("officers_per_team", 1),
        lambda r: r["campaign"].__setitem__("teams", 0),
        lambda r: r["strata"][0].__setitem__("ratio", "1/3"),
        lambda r: r["strata"][0].__setitem__("ratio", "1e999999999"),
    ],
    ids=["bool-for-int", "float-for-int", "one-officer", "zero-teams", "fraction", "huge"],
)
def test_retyped_or_impossible_values_fail_both_verifiers(
    record: dict[str, Any], edit: Any
) -> None:
    changed = copy.deepcopy(record)
    edit(changed)
    assert first_difference(changed) is not None
    assert not standalone_ok(changed)


def test_both_verifiers_name_the_same_commitment_digest(record: dict[str, Any]) -> None:
    from bot.draw.record import commitment_sha256

    assert verifier.commitment(record) == commitment_sha256(record)
    hashed = {k: v for k, v in record.items() if k not in ("draws", "private")}
    assert commitment_sha256(record) == sha256_text(canonical(hashed))


# --- the chain of runs and what the certificate publishes ------------------------------------


def test_each_run_links_to_the_one_before_and_the_first_to_the_commitment() -> None:
    first, second = TWICE["draws"]
    assert first["previous_sha256"] == commitment_sha256(TWICE)
    assert second["previous_sha256"] == first["sha256"]
    for run in TWICE["draws"]:
        without = {k: v for k, v in run.items() if k not in ("sha256", "private")}
        assert run["sha256"] == sha256_text(canonical(without))  # the rule the README states
        assert run["private_sha256"] == sha256_text(canonical(run["private"]))


def test_a_re_draw_publishes_its_own_secret_hash() -> None:
    first, second = TWICE["draws"]
    assert first["secret_sha256"] == TWICE["secret_sha256"]
    assert second["secret_sha256"] != first["secret_sha256"]
    assert second["secret_sha256"] == sha256_text(second["secret"])


def cut_after_first(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "draws": record["draws"][:1]}


def test_a_record_cut_after_run_1_of_2_recomputes_but_not_against_what_was_published() -> None:
    cut = cut_after_first(TWICE)
    assert first_difference(cut) is None
    heads = verifier.verify(copy.deepcopy(cut))
    assert heads == [commitment_sha256(TWICE), TWICE["draws"][0]["sha256"]]
    head = TWICE["draws"][1]["sha256"]
    assert against_published(cut, 2, head) == ("cut", {"found": 1, "published": 2})
    with pytest.raises(verifier.Mismatch, match="ends after run 1 of 2"):
        verifier.against(heads, 2, head)


@pytest.mark.parametrize(
    ("runs", "head", "standing"),
    [
        (2, "second", "same"),
        (None, "second", "same"),
        (2, None, "same"),
        (1, "first", "later"),
        (3, "second", "cut"),
        (2, "first", "head"),
        (None, "first", "head"),
        (0, "commitment", "later"),
    ],
)
def test_both_verifiers_hold_a_record_against_what_was_published_alike(
    runs: int | None, head: str | None, standing: str
) -> None:
    named = {
        "commitment": commitment_sha256(TWICE),
        "first": TWICE["draws"][0]["sha256"],
        "second": TWICE["draws"][1]["sha256"],
    }
    published = None if head is None else named[head]
    assert against_published(TWICE, runs, published)[0] == standing
    heads = verifier.verify(copy.deepcopy(TWICE))
    if standing in ("cut", "head"):
        with pytest.raises(verifier.Mismatch):
            verifier.against(heads, runs, published)
    else:
        assert ("then" in verifier.against(heads, runs, published)) == (standing == "later")


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: r["draws"].pop(0),  # the first run dropped
        lambda r: r["draws"].reverse(),  # the runs in another order
        lambda r: r["draws"][1].update(previous_sha256=r["draws"][0]["previous_sha256"]),
    ],
    ids=["first-dropped", "reordered", "second-linked-to-the-commitment"],
)
def test_runs_dropped_from_the_front_or_reordered_fail_both_verifiers(edit: Any) -> None:
    bad = copy.deepcopy(TWICE)
    edit(bad)
    assert first_difference(bad) is not None
    assert not standalone_ok(bad)


def test_standalone_program_says_where_a_cut_record_ends(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text(canonical(cut_after_first(TWICE)), encoding="utf-8")
    head = TWICE["draws"][1]["sha256"]
    done = run_standalone(path, "--runs", "2", "--head", head.upper())
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ends after run 1 of 2" in done.stdout
    alone = run_standalone(path)
    assert alone.returncode == 0
    assert f"runs: 1  链头 / chain head: {TWICE['draws'][0]['sha256']}" in alone.stdout


@pytest.mark.parametrize(
    "args",
    [["--runs"], ["--runs", "two"], ["--head", "x", "--head", "y"], ["--other", "1"]],
)
def test_standalone_program_refuses_odd_arguments_with_its_usage(
    args: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "record.json"
    path.write_text(canonical(TWICE), encoding="utf-8")
    done = run_standalone(path, *args)
    assert done.returncode == 2
    assert "usage" in done.stderr and "Traceback" not in done.stderr


# --- v3's private parts and the public record ------------------------------------------------

V2_RECORD = Path(__file__).parent / "data" / "draw-record-v2.json"


def leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path to every scalar in a JSON value."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in leaves(v, (*path, i))]
    return [path]


def changed_at(record: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    copied = copy.deepcopy(record)
    *parents, last = path
    holder = copied
    for step in parents:
        holder = holder[step]
    old = holder[last]
    holder[last] = (
        not old
        if type(old) is bool
        else old + 1
        if type(old) is int
        else "x"
        if old is None
        else old + "0"
    )
    return copied


def test_the_public_record_drops_every_private_part_and_keeps_their_digests() -> None:
    public = public_record(TWICE)
    assert public is not None
    assert "private" not in public and all("private" not in run for run in public["draws"])
    assert public["private_sha256"] == TWICE["private_sha256"]
    assert "tester" not in canonical(public) and "某执法人员" not in canonical(public)
    assert commitment_sha256(public) == commitment_sha256(TWICE)
    assert [r["sha256"] for r in public["draws"]] == [r["sha256"] for r in TWICE["draws"]]
    assert first_difference(public) is None and standalone_ok(public)
    assert private_parts(public) == (0, 3) and private_parts(TWICE) == (3, 3)


def test_the_public_record_verifies_with_the_standalone_verifier_as_a_program(
    tmp_path: Path,
) -> None:
    public = public_record(TWICE)
    assert public is not None
    path = tmp_path / "record.json"
    path.write_text(canonical(public), encoding="utf-8")
    head = TWICE["draws"][-1]["sha256"]
    done = run_standalone(path, "--runs", "2", "--head", head)
    assert done.returncode == 0, done.stdout
    assert commitment_sha256(TWICE) in done.stdout and head in done.stdout
    assert "0 of 3 given" in done.stdout and "not published" in done.stdout
    full = tmp_path / "full.json"
    full.write_text(canonical(TWICE), encoding="utf-8")
    done = run_standalone(full)
    assert done.returncode == 0 and "3 of 3 given" in done.stdout


def test_any_public_field_changed_is_caught_by_both_verifiers() -> None:
    public = public_record(TWICE)
    assert public is not None
    paths = leaves(public)
    assert len(paths) > 100
    for path in paths:
        edited = changed_at(public, path)
        assert suiji_refuses(edited), path
        assert standalone_refuses(edited), path


def standalone_refuses(record: dict[str, Any]) -> bool:
    """MISMATCH or UNREADABLE, as the verifier's main prints for it."""
    try:
        verifier.verify(record)
    except (verifier.Mismatch, *verifier.UNREADABLE):
        return True
    return False


def test_a_private_part_given_must_hash_to_its_digest() -> None:
    for path in leaves({"private": TWICE["private"], "draws": TWICE["draws"]}):
        if "private" not in path:
            continue
        edited = changed_at(TWICE, path)
        difference = first_difference(edited)
        assert difference is not None and difference.path.endswith("private_sha256"), path
        with pytest.raises(verifier.Mismatch, match="private"):
            verifier.verify(edited)


def test_an_old_v2_record_still_verifies_in_both_and_has_no_public_form() -> None:
    record = json.loads(V2_RECORD.read_text(encoding="utf-8"))
    assert record["format"] == "suiji-draw-record/2"
    assert first_difference(record) is None and len(verifier.verify(record)) == 3
    assert public_record(record) is None and private_parts(record) == (0, 0)
    assert first_difference(tampered(record, change_a_v2_name)) is not None
    assert not standalone_ok(tampered(record, change_a_v2_name))
    done = run_standalone(V2_RECORD)
    assert done.returncode == 0 and "private parts" not in done.stdout, done.stdout
    smuggled = {**record, "private": {"salt": "0"}}  # not part of v2: refused, not ignored
    assert first_difference(smuggled) is not None and not standalone_ok(smuggled)


def change_a_v2_name(r: dict[str, Any]) -> None:
    first = next(iter(r["draws"][0]["names"]))
    r["draws"][0]["names"][first] = "别人"


def test_witness_sources_are_published_by_label_and_lotteries_as_named() -> None:
    published = public_sources(SOURCES)
    assert published == [{"name": "监督人1", "kind": "witness", "description": ""}, SOURCES[1]]
    clash = [SOURCES[0], {"name": "监督人1", "kind": "lottery", "description": "x"}]
    names = [s["name"] for s in public_sources(clash)]
    assert len(set(names)) == 2
