"""The draw certificate, rendered from a record alone: what it shows and what it asks to compare."""

from __future__ import annotations

import copy

from bot.draw.record import canonical, commitment_sha256, sha256_text
from bot.workflows.campaigns import certificate_html
from tests.unit.test_draw_record import OFFICERS, TWICE, base_record

ZONE = "Asia/Shanghai"


def test_the_certificate_shows_names_as_the_record_holds_them() -> None:
    record = copy.deepcopy(TWICE)
    last = record["draws"][-1]
    officer = last["teams"][0]["officers"][0]
    last["names"] = {officer: "记录里的名字"}
    html = certificate_html(record, ZONE)
    assert f"记录里的名字（{officer}）" in html
    assert OFFICERS[0] in html  # without a recorded name, the certificate number stands


def test_the_certificate_states_every_value_to_compare_and_the_command_that_does() -> None:
    html = certificate_html(TWICE, ZONE)
    head = TWICE["draws"][-1]["sha256"]
    for value in (commitment_sha256(TWICE), head, sha256_text(canonical(TWICE))):
        assert value in html
    assert f"python3 verify.py 记录.json --runs 2 --head {head}" in html
    assert "再次摇号原因：监督人报数有误，经批准重新摇号" in html
    assert "每次再次摇号的系统密钥 SHA-256 与那次摇号前公布的一致" in html


def test_a_certificate_before_any_run_names_the_commitment_as_its_chain_head() -> None:
    record = {**base_record(), "draws": []}
    html = certificate_html(record, ZONE)
    assert f"--runs 0 --head {commitment_sha256(record)}" in html
    assert "第 1 次摇号" not in html


def test_a_served_certificate_links_its_record_and_the_verifier() -> None:
    html = certificate_html(TWICE, ZONE, {"record": "record.json", "verifier": "../verify.py"})
    assert 'href="record.json"' in html and 'href="../verify.py"' in html
    assert "suiji draw verifier" not in html
