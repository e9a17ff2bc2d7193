"""The report as a Word document, from plain content: what it holds, and how it looks printed
(its first page rendered with LibreOffice where installed, skipped otherwise)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import docx
import pytest

from handlers.report_document import Signed, build

CONTENT = {
    "campaign": {"id": 1, "name": "2026年12月工资支付抽查", "unit": "劳动保障监察大队",
                 "start": "2026-12-03", "end": "2026-12-17", "purpose": "督促依法用工。"},
    "items": [{"code": "RS-JC-003", "name": "工资支付情况", "legal_basis": "《劳动法》第五十条"}],
    "team": {"number": 1, "members": [
        {"name": "张凯", "role": "leader", "certificate": "豫41142200229"},
        {"name": "冯新民", "role": "member", "certificate": "豫41142200300"},
    ]},
    "employers": [
        {"name": "睢县华鑫制鞋有限公司", "uscc": "91411422MA3G5RXH7M", "address": "睢县城关镇",
         "problem": True, "results": [
             {"item": "RS-JC-003", "item_name": "工资支付情况", "finding": 1,
              "answers_sha256": "ab" * 32, "checked_on": "2026-12-03", "check_method": "实地检查",
              "result_category": "发现问题已责令改正", "measure": "责令改正",
              "problems": "拖欠 3 名职工工资", "rectify_by": "2026-12-18", "photos": ["cd" * 32]},
         ]},
    ],
    "summary": {"employers": 1, "with_problems": 1, "categories": {"发现问题已责令改正": 1}},
}  # fmt: skip


def words(path: Path) -> str:
    document = docx.Document(str(path))
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def test_an_approved_report_holds_every_result_and_its_approver(tmp_path: Path) -> None:
    path = tmp_path / "r.docx"
    signed = Signed(True, approver="苗明亮", approved_on="2026-12-20", leader="张凯")
    path.write_bytes(build(CONTENT, "已责令限期改正。", signed))
    shown = words(path)
    for expected in ("睢县华鑫制鞋有限公司", "91411422MA3G5RXH7M", "发现问题已责令改正", "责令改正",
                     "2026-12-18", "《劳动法》第五十条", "豫41142200229", "已责令限期改正。",
                     "审批人：苗明亮", "2026-12-20"):  # fmt: skip
        assert expected in shown, expected
    assert "草稿" not in shown


def test_a_draft_is_marked_and_unsigned(tmp_path: Path) -> None:
    path = tmp_path / "d.docx"
    path.write_bytes(build(CONTENT, "", Signed(False, leader="张凯")))
    shown = words(path)
    assert "草稿" in shown and "审批人：__________" in shown and "尚未填写结论" in shown


OFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.skipif(OFFICE is None, reason="LibreOffice is not installed")
def test_its_first_page_renders_for_a_person_to_look_at(tmp_path: Path) -> None:
    """`SUIJI_KEEP_RENDER=DIR` keeps the picture."""
    path = tmp_path / "r.docx"
    signed = Signed(True, approver="苗明亮", approved_on="2026-12-20", leader="张凯")
    path.write_bytes(build(CONTENT, "已责令限期改正。", signed))
    assert OFFICE is not None
    subprocess.run(
        [OFFICE, "--headless", "--convert-to", "png", "--outdir", str(tmp_path), str(path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    picture = tmp_path / "r.png"
    assert picture.read_bytes().startswith(b"\x89PNG")
    if keep := os.environ.get("SUIJI_KEEP_RENDER"):
        shutil.copy(picture, keep)
