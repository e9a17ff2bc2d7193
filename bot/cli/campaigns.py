"""``suiji plan``, ``suiji campaign`` and ``suiji draw``: the annual plan, campaigns, the draw."""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from bot.base.config import DEFAULT_TIMEZONE
from bot.base.texts import TEMPLATES_DIR, render, text
from bot.cli.actors import ADMIN, LEADER, actor_option, given_actor, run_as
from bot.cli.support import (
    ID,
    Refused,
    emit,
    explained,
    run_with_db,
    settings_of,
    utc_now,
    zone_of,
)
from bot.cli.tables import format_table
from bot.draw.record import (
    Difference,
    against_published,
    canonical,
    chain_heads,
    commitment_sha256,
    first_difference,
    private_parts,
    public_record,
    sha256_text,
)
from bot.draw.rfc3797 import ALGORITHMS, RFC3797, format_key, select
from bot.registry.fields import CellError, labels, percent_field
from bot.registry.scan import scan_document
from bot.workflows import campaigns, plans, progress
from bot.workflows.campaign_spec import EXAMPLE_LEAD, SpecError, example_campaign, parse_campaign
from bot.workflows.publish import hit_line, people_to_look_for
from bot.workflows.step import policy_of

PLANNERS = (ADMIN, LEADER)  # who makes the plan and proposes needs; leaders decide them


# --- plan ------------------------------------------------------------------------------------


@click.group()
def plan() -> None:
    """The annual spot-check plan: needs proposed by units, approved by leaders."""


@plan.command("create")
@click.argument("year", type=click.IntRange(2000, 2100))
@actor_option
@click.pass_context
@explained(plans.PlanError)
def plan_create(ctx: click.Context, year: int, actor: str | None) -> None:
    """Create the plan for YEAR."""
    run_as(ctx, actor, PLANNERS, lambda f, name: plans.create_plan(f, year, name, utc_now))
    click.echo(text("plan.created", year=year))


@plan.command("add-need")
@click.argument("year", type=click.IntRange(2000, 2100))
@click.option("--unit", required=True)
@click.option("--items", required=True)
@click.option("--scope", required=True)
@click.option("--ratio", required=True)
@click.option("--timing", required=True)
@click.option("--supplement", is_flag=True)
@actor_option
@click.pass_context
@explained(plans.PlanError, CellError)
def plan_add_need(
    ctx: click.Context,
    year: int,
    unit: str,
    items: str,
    scope: str,
    ratio: str,
    timing: str,
    supplement: bool,
    actor: str | None,
) -> None:
    """Add a unit's need to the YEAR plan; prints its id on the last line."""
    codes = [code for code in campaigns.NUMBER_SEPARATORS.split(items) if code]
    if not codes:
        raise Refused(text("plan.no_items"))
    percent = percent_field("ratio").parse(ratio)
    need_id = run_as(
        ctx,
        actor,
        PLANNERS,
        lambda f, name: plans.add_need(
            f,
            year,
            unit=unit,
            items=codes,
            scope=scope,
            ratio=percent,
            timing=timing,
            supplement=supplement,
            actor=name,
            clock=utc_now,
            policy=policy_of(settings_of(ctx)),
        ),
    )
    click.echo(text("plan.need_added", id=need_id, supplement=supplement))
    click.echo(need_id)


def _decide(
    ctx: click.Context, need_id: int, approve: bool, comment: str | None, by: str | None
) -> None:
    ref = given_actor(ctx, by, (LEADER,))  # decide_need finds the person again, by this name
    need = run_as(
        ctx,
        ref,
        (LEADER,),
        lambda f, _name: plans.decide_need(
            f,
            need_id,
            approve=approve,
            comment=comment,
            approver=ref,
            clock=utc_now,
            policy=policy_of(settings_of(ctx)),
        ),
    )
    click.echo(text("plan.decided_now", id=need.id, state=need.state.value))


@plan.command("approve")
@click.argument("need_id", type=ID)
@actor_option
@click.option("--comment", default=None)
@click.pass_context
@explained(plans.PlanError)
def plan_approve(ctx: click.Context, need_id: int, actor: str | None, comment: str | None) -> None:
    """Approve need NEED_ID (leaders only)."""
    _decide(ctx, need_id, True, comment, actor)


@plan.command("reject")
@click.argument("need_id", type=ID)
@actor_option
@click.option("--comment", required=True)
@click.pass_context
@explained(plans.PlanError)
def plan_reject(ctx: click.Context, need_id: int, actor: str | None, comment: str) -> None:
    """Reject need NEED_ID with a reason (leaders only)."""
    _decide(ctx, need_id, False, comment, actor)


@plan.command("show")
@click.argument("year", type=click.IntRange(2000, 2100))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@explained(plans.PlanError)
def plan_show(ctx: click.Context, year: int, fmt: str) -> None:
    """Show the YEAR plan and the state of each need."""
    view = run_with_db(ctx, lambda f: plans.plan_view(f, year))
    emit(fmt, view, "cli/plan_show.txt.j2", plan=view, tz=zone_of(ctx))


# --- campaign --------------------------------------------------------------------------------


@click.group()
def campaign() -> None:
    """Campaigns (实施方案): create, show."""


@campaign.command("example")
@click.pass_context
def campaign_example(ctx: click.Context) -> None:
    """Print a commented campaign file that works with the --sample data, dated from today."""
    today = utc_now().astimezone(ZoneInfo(_zone_or_default(ctx))).date()
    click.echo(example_campaign(today + EXAMPLE_LEAD), nl=False)


def _zone_or_default(ctx: click.Context) -> str:
    """The configured zone; the default one if the config is broken (an example needs none)."""
    try:
        return zone_of(ctx)
    except Refused:
        return DEFAULT_TIMEZONE


@campaign.command("create")
@click.option("--file", "file", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--allow-past", is_flag=True)
@actor_option
@click.pass_context
@explained(campaigns.CampaignError, SpecError)
def campaign_create(ctx: click.Context, file: Path, allow_past: bool, actor: str | None) -> None:
    """Create a campaign from a TOML file; prints its id on the last line."""
    spec = parse_campaign(_read_text(file))
    policy = policy_of(settings_of(ctx))
    created = run_as(
        ctx,
        actor,
        (ADMIN,),
        lambda f, name: campaigns.create_campaign(
            f, spec, name, utc_now, policy=policy, allow_past=allow_past
        ),
    )
    today = utc_now().astimezone(policy.tz).date()
    closed = campaigns.declines_closed_on(spec, policy)
    if spec.start < today:
        click.echo(text("campaign.started_in_past", start=spec.start.isoformat()), err=True)
    elif closed <= today:
        click.echo(text("campaign.declines_closed", closed=closed.isoformat()), err=True)
    if created.twins:
        click.echo(text("campaign.twins", ids=list(created.twins)), err=True)
    click.echo(text("campaign.created", name=spec.name))
    click.echo(created.id)


@campaign.command("notify")
@click.argument("campaign_id", type=ID)
@actor_option
@click.pass_context
@explained(campaigns.CampaignError)
def campaign_notify(ctx: click.Context, campaign_id: int, actor: str | None) -> None:
    """Send a drawn campaign's assignments (again): each leader their team, each member who
    has not answered their task."""
    sent = run_as(
        ctx,
        actor,
        (ADMIN,),
        lambda f, name: campaigns.notify_campaign(
            f, campaign_id, name, utc_now, policy_of(settings_of(ctx))
        ),
    )
    click.echo(text("campaign.notified", id=campaign_id, people=sent))


@campaign.command("show")
@click.argument("campaign_id", type=ID)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@explained(campaigns.CampaignError)
def campaign_show(ctx: click.Context, campaign_id: int, fmt: str) -> None:
    """Teams, members, leaders, reserve and draw status of a campaign, and where each finding
    of each team stands."""
    view = run_with_db(ctx, lambda f: progress.show_campaign(f, campaign_id))
    emit(fmt, view, "cli/campaign_show.txt.j2", nl=False, c=view, labels=labels, tz=zone_of(ctx))


# --- draw ------------------------------------------------------------------------------------


@click.group()
def draw() -> None:
    """The publicly verifiable draw (摇号): commit, run, export, verify."""


@draw.command("commit")
@click.argument("campaign_id", type=ID)
@actor_option
@click.pass_context
@explained(campaigns.CampaignError)
def draw_commit(ctx: click.Context, campaign_id: int, actor: str | None) -> None:
    """Freeze the pools and publish digests, counts, sources and the secret's SHA-256."""
    document = run_as(
        ctx, actor, (ADMIN,), lambda f, name: campaigns.commit_draw(f, campaign_id, name, utc_now)
    )
    click.echo(render("cli/draw_committed.txt.j2", d=document, labels=labels), nl=False)


def parse_entropy(values: tuple[str, ...]) -> dict[str, list[int]]:
    parsed: dict[str, list[int]] = {}
    for value in values:
        name, sep, numbers = value.partition("=")
        parts = campaigns.entropy_numbers(numbers)
        if not sep or not name.strip() or parts is None:
            raise Refused(text("campaign.entropy_syntax", value=value))
        if name.strip() in parsed:
            raise Refused(text("campaign.entropy_twice", name=name.strip()))
        parsed[name.strip()] = parts
    return parsed


@draw.command("run")
@click.argument("campaign_id", type=ID)
@click.option(
    "--entropy",
    "entropy",
    multiple=True,
    required=True,
)
@click.option("--reason", default=None)
@actor_option
@click.pass_context
@explained(campaigns.CampaignError)
def draw_run(
    ctx: click.Context,
    campaign_id: int,
    entropy: tuple[str, ...],
    reason: str | None,
    actor: str | None,
) -> None:
    """Reveal the secret, form the key from all sources, draw and form the teams."""
    values = parse_entropy(entropy)
    run = run_as(
        ctx,
        actor,
        (ADMIN,),
        lambda f, name: campaigns.run_draw(
            f,
            campaign_id,
            values,
            reason,
            name,
            utc_now,
            policy_of(settings_of(ctx)),
        ),
    )
    click.echo(render("cli/draw_run.txt.j2", run=run, campaign_id=campaign_id), nl=False)


def _scanned(ctx: click.Context, file: Path, content: str) -> None:
    """A file made to be published, proven free of personal data before it is written, as
    ``publish site`` and ``publish export`` do (the record's texts were checked when the
    campaign was created, but against the registry of that day)."""
    hits = scan_document(file.name, content, run_with_db(ctx, people_to_look_for))
    if hits:
        raise Refused(text("campaign.public_refused", lines=[hit_line(h) for h in hits]))


def _write(path: Path, content: str) -> None:
    try:
        # Bytes exactly as given (no newline translation): the record's SHA-256 is its file's.
        path.write_bytes(content.encode("utf-8"))
    except OSError as exc:
        raise Refused(text("campaign.unwritable", path=str(path), detail=exc.strerror)) from exc


@draw.command("reseed")
@click.argument("campaign_id", type=ID)
@click.option("--reason", required=True)
@actor_option
@click.pass_context
@explained(campaigns.CampaignError)
def draw_reseed(ctx: click.Context, campaign_id: int, reason: str, actor: str | None) -> None:
    """Commit a new secret before drawing again; prints its SHA-256 to publish."""
    digest = run_as(
        ctx,
        actor,
        (ADMIN,),
        lambda f, name: campaigns.reseed_draw(f, campaign_id, reason, name, utc_now),
    )
    click.echo(text("campaign.reseeded", id=campaign_id, digest=digest))


@draw.command("export")
@click.argument("campaign_id", type=ID)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--public",
    is_flag=True,
    help="The public record: without the private parts (names, reasons); still recomputes.",
)
@click.pass_context
@explained(campaigns.CampaignError)
def draw_export(ctx: click.Context, campaign_id: int, file: Path, public: bool) -> None:
    """Write the draw record (JSON) that anyone can recompute: the full one, kept by the
    bureau, or with --public the one to publish."""
    record = run_with_db(ctx, lambda f: campaigns.draw_record(f, campaign_id))
    written = public_record(record) if public else record
    if written is None:
        raise Refused(text("campaign.no_public_record", id=campaign_id))
    # Canonical JSON, the very bytes the certificate's record SHA-256 is taken over, so that
    # sha256sum (certutil -hashfile on Windows) gives the printed value.
    content = canonical(written)
    if public:
        _scanned(ctx, file, content)
    _write(file, content)
    done = "campaign.exported_public" if public else "campaign.exported"
    click.echo(text(done, path=str(file), runs=len(record["draws"])))
    _confidential_note(record, ZoneInfo(zone_of(ctx)))


def _confidential_note(record: dict[str, Any], tz: dt.tzinfo) -> None:
    campaign = record["campaign"]
    end = dt.date.fromisoformat(campaign["end"])
    if campaigns.under_embargo(campaign["confidential"], end, utc_now().astimezone(tz).date()):
        click.echo(text("campaign.confidential_note", end=campaign["end"]), err=True)


@draw.command("certificate")
@click.argument("campaign_id", type=ID)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--public",
    is_flag=True,
    help="The public certificate: people by certificate number only, no signatures.",
)
@click.pass_context
@explained(campaigns.CampaignError)
def draw_certificate(ctx: click.Context, campaign_id: int, file: Path, public: bool) -> None:
    """Write the Chinese draw certificate page (HTML): for the bureau's file, with names and
    signatures; with --public, as the public site shows it."""
    record = run_with_db(ctx, lambda f: campaigns.draw_record(f, campaign_id))
    _confidential_note(record, ZoneInfo(zone_of(ctx)))
    content = campaigns.certificate_html(record, zone_of(ctx), public=public)
    if public:
        _scanned(ctx, file, content)
    _write(file, content)
    click.echo(text("campaign.certificate_written", path=str(file)))


def _describe(difference: Difference) -> str:
    return text(
        "campaign.verify_failed",
        path=difference.path,
        expected=json.dumps(difference.expected, ensure_ascii=False)[:200],
        found=json.dumps(difference.found, ensure_ascii=False)[:200],
    )


SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _sha256_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not SHA256.match(value.strip().lower()):
        raise click.BadParameter(text("campaign.not_a_sha256", value=value[:80]))
    return value.strip().lower() if value is not None else None


@draw.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--runs",
    type=click.IntRange(0, 2**31 - 1),
    default=None,
    help="The run count the certificate states: a record cut short is named so.",
)
@click.option(
    "--head",
    default=None,
    callback=_sha256_option,
    help="The chain head the certificate states (SHA-256 of its last run).",
)
def draw_verify(file: Path, runs: int | None, head: str | None) -> None:
    """Recompute a draw record; OK, or the first difference (exit 1). With the run count and
    chain head a certificate published, also whether this is that record, or one cut short."""
    try:
        data = file.read_bytes()
        record = json.loads(data.decode("utf-8-sig"))  # a BOM if re-saved in Notepad
        difference = first_difference(record)
    except (
        OSError,
        UnicodeDecodeError,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        AttributeError,
    ) as exc:
        detail = f"{type(exc).__name__}: {exc}"
        raise Refused(text("campaign.record_unreadable", detail=detail)) from exc
    if difference is not None:
        raise Refused(_describe(difference))
    click.echo(text("campaign.verify_ok", runs=len(record["draws"])))
    present, total = private_parts(record)
    if total:
        click.echo(text("campaign.private_parts", present=present, total=total))
    digest, exported = hashlib.sha256(data).hexdigest(), sha256_text(canonical(record))
    click.echo(text("campaign.record_digest", digest=digest))
    if digest != exported:  # sha256sum hashes bytes: an editor's re-save changes them
        click.echo(text("campaign.record_resaved", exported=exported))
    commitment = commitment_sha256(record)
    click.echo(text("campaign.commitment_digest", digest=commitment))
    heads = chain_heads(commitment, record["draws"])
    click.echo(text("campaign.chain_head", runs=len(heads) - 1, head=heads[-1]))
    if runs is None and head is None:
        return
    standing, values = against_published(record, runs, head)
    message = text(PUBLISHED_STANDING[standing], **values)
    if standing in ("cut", "head"):
        raise Refused(message)
    click.echo(message)


PUBLISHED_STANDING = {
    "cut": "campaign.published_cut",
    "head": "campaign.published_head",
    "later": "campaign.published_later",
    "same": "campaign.published_same",
}


@draw.command("verifier")
def draw_verifier() -> None:
    """Print the standalone verifier (one Python file, standard library only)."""
    click.echo((TEMPLATES_DIR / "draw" / "verify.py").read_text("utf-8"), nl=False)


def _read_text(path: Path) -> str:
    """A text file in UTF-8 (with or without a BOM) or UTF-16 with a BOM, which is what Windows
    PowerShell 5's ``>`` writes (``suiji campaign example > 方案.toml``)."""
    try:
        raw = path.read_bytes()
        utf16 = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        return raw.decode("utf-16") if utf16 else raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise Refused(text("campaign.unreadable", path=str(path), detail=str(exc))) from exc


def read_seeds(path: Path) -> list[list[int]]:
    """An RFC 3797 seed file: one source per line, numbers separated by blanks (or commas, as
    everywhere numbers are typed), # comments."""
    sources = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        numbers = campaigns.entropy_numbers(content)
        if numbers is None:
            raise Refused(text("campaign.seed_line", path=path.name, row=number))
        sources.append(numbers)
    if not sources:
        raise Refused(text("campaign.no_seeds", path=path.name))
    return sources


@draw.command("rfc3797")
@click.option(
    "--seeds", "seeds_file", required=True, type=click.Path(dir_okay=False, path_type=Path)
)
@click.option("--pool", "pool_file", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--count", type=click.IntRange(min=0), required=True)
@click.option("--algorithm", type=click.Choice(list(ALGORITHMS)), default=RFC3797)
@click.option("--label", default="")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def draw_rfc3797(
    seeds_file: Path, pool_file: Path, count: int, algorithm: str, label: str, fmt: str
) -> None:
    """Select COUNT entries from a pool file, RFC 3797 style, from public seeds."""
    key = format_key(read_seeds(seeds_file))
    pool = [e.strip() for e in _read_text(pool_file).splitlines() if e.strip()]
    if count > len(pool):
        raise Refused(text("campaign.count_too_big", count=count, size=len(pool)))
    if algorithm == RFC3797 and count > 65536:
        raise Refused(text("campaign.rfc3797_limit"))
    positions = list(select(algorithm, key, len(pool), count, label))
    if fmt == "json":
        picks = [
            {"index": i + 1, "position": p + 1, "entry": pool[p]} for i, p in enumerate(positions)
        ]
        click.echo(json.dumps({"key": key, "picks": picks}, ensure_ascii=False, indent=2))
        return
    click.echo(text("campaign.selection_key", key=key))
    rows = [[str(i + 1), str(p + 1), pool[p]] for i, p in enumerate(positions)]
    headers = [
        text("campaign.selection_index"),
        text("campaign.selection_position"),
        text("campaign.selection_entry"),
    ]
    click.echo(format_table(headers, rows))


COMMANDS = (plan, campaign, draw)
