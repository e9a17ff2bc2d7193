"""The public site's draws (issue 17 §1 "always public", §2 draws): every campaign's draw
commitment as published at ``draw commit``, and for each drawn campaign out of embargo its
certificate (people by certificate number only), its public record and the standalone verifier,
with how to verify it in three steps.

- ``draws/index.html``: each committed campaign — commitment SHA-256 and time (a confidential
  campaign's too: the digest reveals nothing), and once drawn and public its run count, chain
  head and page;
- ``draws/<id>/index.html`` for every committed campaign: what its commitment locked until it
  is drawn and public (a confidential one's until its checks end), then the certificate, beside
  ``draws/<id>/record.json`` (bot.draw.record.public_record: no one's name, still recomputes);
  an old v2 record has no public form, its page says why;
- ``draws/verify.py``: templates/draw/verify.py as it is.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.base.texts import TEMPLATES_DIR
from bot.draw.record import canonical, public_record
from bot.registry.fields import labels
from bot.workflows import campaigns
from bot.workflows.site.pages import SiteContext, SiteFile, campaign_path, draw_path, page

VERIFIER = "draws/verify.py"
# Relative to a draw's page (draws/<id>/index.html).
LINKS = {"record": "record.json", "verifier": "../verify.py"}


def record_path(campaign_id: int) -> str:
    return f"draws/{campaign_id}/record.json"


async def files(session: AsyncSession, context: SiteContext) -> list[SiteFile]:
    draws = await campaigns.published_draws(session, context.today)
    found = [SiteFile(VERIFIER, (TEMPLATES_DIR / "draw" / "verify.py").read_bytes())]
    rows = []
    for draw in draws:
        row: dict[str, object] = {"draw": draw, "campaign": campaign_path(draw.id), "runs": None}
        found += _draw_files(draw, context)
        if draw.record is not None:
            row.update(runs=len(draw.record["draws"]), head=draw.record["draws"][-1]["sha256"])
        rows.append(row)
    index = page("draws/index.html", "draws.html.j2", context, rows=rows, draw_path=draw_path)
    found.append(index)
    return found


def _draw_files(draw: campaigns.PublishedDraw, context: SiteContext) -> list[SiteFile]:
    """A draw's page — its public certificate once drawn and out of embargo, else what its
    commitment locked — and its public record when it has one."""
    if draw.record is None:
        values = campaigns.commitment_values(draw.commitment)
        return [
            page(
                draw_path(draw.id),
                "draw_committed.html.j2",
                context,
                labels=labels,
                embargoed=draw.embargoed,
                **values,
            )
        ]
    public = public_record(draw.record)
    certificate = page(
        draw_path(draw.id),
        "draw.html.j2",
        context,
        labels=labels,
        links=LINKS if public is not None else {},
        site=True,
        **campaigns.certificate_values(draw.record, public=True),
    )
    if public is None:  # v2: names under its hashes, no public form
        return [certificate]
    return [certificate, SiteFile(record_path(draw.id), canonical(public).encode("utf-8"))]
