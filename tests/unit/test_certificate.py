"""The draw certificate, rendered from a record alone: what it shows and what it asks to compare;
the public one names people by certificate number only."""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from pathlib import Path

from bot.draw.record import canonical, commitment_sha256, public_record, sha256_text
from bot.workflows.campaigns import certificate_html
from tests.unit.test_draw_record import OFFICERS, TWICE, base_record

ZONE = "Asia/Shanghai"
V2 = json.loads((Path(__file__).parent / "data" / "draw-record-v2.json").read_text("utf-8"))


class Text(HTMLParser):
    """A page's visible text and its links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.links: list[str] = []
        self.feed(html)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v for k, v in attrs if k == "href" and v]

    @property
    def text(self) -> str:
        return "".join(self.parts)


def test_the_bureaus_certificate_shows_names_as_the_full_record_holds_them() -> None:
    record = copy.deepcopy(TWICE)
    last = record["draws"][-1]
    officer = last["teams"][0]["officers"][0]
    last["private"]["names"] = {officer: "记录里的名字"}
    page = Text(certificate_html(record, ZONE)).text
    assert f"记录里的名字（{officer}）" in page
    assert OFFICERS[0] in page  # without a recorded name, the certificate number stands
    assert "再次摇号原因：监督人报数有误，经批准重新摇号" in page
    assert "tester" in page and "签字" in page  # who committed and ran it, for the file


def test_the_public_certificate_names_no_one_and_says_why_numbers_stand() -> None:
    record = copy.deepcopy(TWICE)
    for run in record["draws"]:
        run["private"]["names"] = {o: "不该出现的名字" for o in run["officer_order"]}
    page = Text(certificate_html(record, ZONE, public=True)).text
    for private in ("不该出现的名字", "tester", "监督人报数有误", "签字"):
        assert private not in page
    assert "执法证号依法公开" in page
    employer, name = next(iter(record["draws"][-1]["employer_names"].items()))
    assert employer in page and name in page  # employers by USCC and registered name
    public = public_record(record)
    assert public is not None
    for value in (commitment_sha256(record), record["draws"][-1]["sha256"]):
        assert value in page
    assert sha256_text(canonical(public)) in page  # the public record's, the file anyone gets
    assert sha256_text(canonical(record)) not in page


def test_an_old_v2_certificate_in_public_shows_no_names_and_offers_no_record() -> None:
    links = {"record": "record.json", "verifier": "../verify.py"}
    html = certificate_html(V2, ZONE, links, public=True)
    page = Text(html)
    assert "刘艳丽" not in page.text  # under the v2 hashes, kept off the page
    assert "某某餐饮有限公司" in page.text  # an employer's name is public
    assert "record.json" not in page.links
    assert "旧版记录格式" in page.text and commitment_sha256(V2) in page.text
    assert "刘艳丽" in certificate_html(V2, ZONE)  # the bureau's own copy keeps them


def test_the_certificate_states_every_value_to_compare_and_the_command_that_does() -> None:
    html = certificate_html(TWICE, ZONE)
    head = TWICE["draws"][-1]["sha256"]
    for value in (commitment_sha256(TWICE), head, sha256_text(canonical(TWICE))):
        assert value in html
    assert f"python3 verify.py 记录.json --runs 2 --head {head}" in html
    assert "每次再次摇号的系统密钥 SHA-256 与那次摇号前公布的一致" in html


def test_a_certificate_before_any_run_names_the_commitment_as_its_chain_head() -> None:
    record = {**base_record(), "draws": []}
    html = certificate_html(record, ZONE)
    assert f"--runs 0 --head {commitment_sha256(record)}" in html
    assert "第 1 次摇号" not in html


def test_a_served_certificate_links_its_record_and_the_verifier() -> None:
    links = {"record": "record.json", "verifier": "../verify.py"}
    html = certificate_html(TWICE, ZONE, links, public=True)
    assert {"record.json", "../verify.py"} <= set(Text(html).links)
    assert "suiji draw verifier" not in html
