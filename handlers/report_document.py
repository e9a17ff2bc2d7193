"""A team's inspection report as a Word document a bureau prints and files.

Pure: the report's content (bot.workflows.reports.draft_content), its conclusion and who
approved it when in; the .docx bytes out. Title, numbered headings, tables (items and their
legal basis, the team, every employer's results), the summary and conclusion, the 单位 and date
block, signature lines for 组长 and 审批人, and page numbers in the footer. A report not yet
approved is marked 草稿. Every word is from templates/text/document.txt.j2.

python-docx builds it: the document's shape (tables as long as the team's employers, a page
number field) is code, its words are templates; a .docx template (docxtpl) would be a binary
file that no review can read.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from bot.base.texts import text

FONT = "SimSun"  # 宋体: what a bureau's printer and readers expect
HEADING_FONT = "SimHei"  # 黑体


@dataclass(frozen=True)
class Signed:
    """The report's standing for its signature block: approved by whom and when (local
    date), or a draft."""

    approved: bool
    approver: str = ""
    approved_on: str = ""
    leader: str = ""


def build(content: dict[str, Any], conclusion: str, signed: Signed) -> bytes:
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE  # the results table is wide
    section.page_width, section.page_height = section.page_height, section.page_width
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(2))
    _base_font(doc)
    campaign, team = content["campaign"], content["team"]

    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(text("document.title", campaign=campaign["name"], team=team["number"]))
    _font(run, HEADING_FONT, 18, bold=True)
    if not signed.approved:
        mark = doc.add_paragraph()
        mark.alignment = WD_ALIGN_PARAGRAPH.CENTER
        draft = mark.add_run(text("document.draft_mark"))
        _font(draft, HEADING_FONT, 14, bold=True)
        draft.font.color.rgb = RGBColor(0xC0, 0x39, 0x2B)

    _heading(doc, text("document.h_basics"))
    for line in text(
        "document.basics",
        name=campaign["name"],
        unit=campaign["unit"],
        start=campaign["start"],
        end=campaign["end"],
        purpose=campaign["purpose"],
    ).splitlines():
        doc.add_paragraph(line)

    _heading(doc, text("document.h_items"))
    _table(
        doc,
        text("document.items_header").split("|"),
        [[i["code"], i["name"], i["legal_basis"]] for i in content["items"]],
        widths=(3, 6, 15),
    )

    _heading(doc, text("document.h_team"))
    _table(
        doc,
        text("document.team_header").split("|"),
        [
            [m["name"], text("document.role", role=m["role"]), m["certificate"]]
            for m in team["members"]
        ],
        widths=(5, 4, 6),
    )

    _heading(doc, text("document.h_results"))
    rows = []
    for number, employer in enumerate(content["employers"], 1):
        for r in employer["results"]:
            rows.append(
                [
                    str(number),
                    employer["name"],
                    employer["uscc"],
                    employer["address"],
                    r["item_name"],
                    _shown(r.get("checked_on")),
                    _shown(r.get("result_category")),
                    _shown(r.get("problems")),
                    _shown(r.get("measure")),
                    _shown(r.get("rectify_by")),
                    str(len(r.get("photos") or [])),
                ]
            )
    _table(
        doc,
        text("document.results_header").split("|"),
        rows,
        widths=(1, 4, 3.2, 3.5, 2.5, 2.2, 3, 3.5, 2, 2.2, 1.2),
        size=8,
    )

    _heading(doc, text("document.h_summary"))
    summary = content["summary"]
    doc.add_paragraph(
        text(
            "document.summary",
            employers=summary["employers"],
            problems=summary["with_problems"],
            categories=list(summary["categories"].items()),
        )
    )

    _heading(doc, text("document.h_conclusion"))
    doc.add_paragraph(conclusion or text("document.no_conclusion"))

    doc.add_paragraph()
    signatures = text(
        "document.signatures",
        unit=campaign["unit"],
        leader=signed.leader,
        approver=signed.approver,
        on=signed.approved_on,
    )
    block = doc.add_paragraph(signatures)
    block.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _page_numbers(section)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _shown(value: Any) -> str:
    return "" if value is None else str(value)


def _base_font(doc: Any) -> None:
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(11)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)  # Chinese text takes this one


def _font(run: Any, name: str, size: float, *, bold: bool = False) -> None:
    run.font.name, run.font.size, run.font.bold = name, Pt(size), bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)


def _heading(doc: Any, words: str) -> None:
    paragraph = doc.add_paragraph()
    paragraph.paragraph_format.space_before = Pt(12)
    _font(paragraph.add_run(words), HEADING_FONT, 14, bold=True)


def _table(
    doc: Any,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    size: float = 10,
) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, words in zip(table.rows[0].cells, header, strict=True):
        cell.text = ""
        _font(cell.paragraphs[0].add_run(words), HEADING_FONT, size, bold=True)
    _repeat_header(table.rows[0])
    for row in rows:
        cells = table.add_row().cells
        for cell, words in zip(cells, row, strict=True):
            cell.text = ""
            _font(cell.paragraphs[0].add_run(words), FONT, size)
    for column, width in zip(table.columns, widths, strict=True):
        for cell in column.cells:
            cell.width = Cm(width)


def _repeat_header(row: Any) -> None:
    """The header row comes again at the top of every page a long table runs onto."""
    properties = row._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    properties.append(repeat)


def _page_numbers(section: Any) -> None:
    """「第 N 页 共 M 页」 in the footer, as Word fields (Word fills them in)."""
    paragraph = section.footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    before, between, after = text("document.page_words").split("|")
    paragraph.add_run(before)
    _field(paragraph, "PAGE")
    paragraph.add_run(between)
    _field(paragraph, "NUMPAGES")
    paragraph.add_run(after)


def _field(paragraph: Any, code: str) -> None:
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), code)
    run = OxmlElement("w:r")
    shown = OxmlElement("w:t")
    shown.text = "1"
    run.append(shown)
    field.append(run)
    paragraph._p.append(field)
