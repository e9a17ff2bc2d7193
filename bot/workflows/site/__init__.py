"""The public site (issue 17 §2): the static HTML the bureau publishes — home, the spot-check
item list, plans, campaigns, results and draws — built from the database, scanned for personal
data, and written whole or not at all.

- ``build`` (this module): the sections' files, sorted, plus ``SHA256SUMS`` (each file's
  SHA-256, the line format ``sha256sum -c`` reads), so the same data gives the same bytes.
- ``pages``: what every section shares — ``SiteFile``, ``SiteContext`` and ``page``, which
  renders a template of ``templates/public/`` with links relative to the page, so the site
  works from any folder, on the county portal or under ``suiji serve``'s ``/public/``.
- one module per section; ``SECTIONS`` lists them in the order the home page links them.

Like every workflow it reads through ``storage`` and may use the libraries and ``base``; it never
imports the server or the CLI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.texts import text
from bot.registry.personal import People
from bot.registry.scan import FileUnreadable, Hit, scan_document
from bot.workflows.publish import hit_line, load_people
from bot.workflows.site import assets, campaigns, draws, home, items, penalties, plans, results
from bot.workflows.site.pages import Section, SiteContext, SiteFile
from storage import audit as audit_db
from storage import publications as publication_db

SECTIONS: tuple[Section, ...] = (
    assets.files,
    home.files,
    items.files,
    plans.files,
    campaigns.files,
    results.files,
    penalties.files,
    draws.files,
)

MANIFEST = "SHA256SUMS"


def manifest(files: Sequence[SiteFile]) -> SiteFile:
    """Each file's SHA-256 and path, sorted by path: ``sha256sum -c SHA256SUMS`` checks a copy."""
    lines = "".join(
        f"{hashlib.sha256(f.content).hexdigest()}  {f.path}\n"
        for f in sorted(files, key=lambda f: f.path)
    )
    return SiteFile(MANIFEST, lines.encode("utf-8"))


async def build(
    factory: async_sessionmaker[AsyncSession],
    context: SiteContext,
    sections: Sequence[Section] = SECTIONS,
) -> list[SiteFile]:
    """Every file of the site, sorted by path, the manifest last; read in one transaction so the
    pages agree with each other."""
    files: list[SiteFile] = []
    async with factory() as session, session.begin():
        for section in sections:
            files.extend(await section(session, context))
    paths = [f.path for f in files]
    if len(paths) != len(set(paths)):
        raise ValueError(f"two sections wrote the same file: {sorted(paths)}")
    files.sort(key=lambda f: f.path)
    return [*files, manifest(files)]


class SiteError(Exception):
    """The site was not written; the message (Chinese) says why."""


def scan(files: Sequence[SiteFile], people: People) -> list[Hit]:
    """Personal data anywhere in the site's files, each hit naming the file's path in the site.
    A file that is not UTF-8 text cannot be proven clean, so it counts as refused too."""
    hits: list[Hit] = []
    for f in files:
        try:
            hits += scan_document(f.path, f.content.decode("utf-8"), people)
        except (UnicodeDecodeError, FileUnreadable) as exc:
            raise SiteError(text("site.unreadable", file=f.path)) from exc
    return hits


def _is_site(directory: Path) -> bool:
    """A folder the site may replace: missing, empty, or a site written before (its manifest)."""
    if not directory.exists():
        return True
    return directory.is_dir() and (not any(directory.iterdir()) or (directory / MANIFEST).is_file())


def write(files: Sequence[SiteFile], directory: Path) -> None:
    """Write the site into ``directory`` whole or not at all: the files go to a new folder
    beside it, which then takes the old one's place by two renames, so a reader sees the old
    site complete until the new one is (a failure on the way leaves the old one as it was)."""
    directory = directory.absolute()
    if not _is_site(directory):
        raise SiteError(text("site.not_a_site", directory=directory))
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.new-", dir=directory.parent))
    try:
        for f in files:
            target = staging.joinpath(*f.path.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.content)
        os.chmod(staging, 0o755)  # mkdtemp's 0700 would hide the site from the web server
        if directory.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
            os.rename(directory, retired / "site")
            try:
                os.rename(staging, directory)
            except BaseException:
                if not directory.exists():  # (another writer's site may stand there now)
                    os.rename(retired / "site", directory)
                shutil.rmtree(retired, ignore_errors=True)
                raise
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


async def checked(
    factory: async_sessionmaker[AsyncSession], context: SiteContext
) -> list[SiteFile]:
    """The site built and scanned: its files, or a SiteError naming each place on any hit."""
    files = await build(factory, context)
    async with factory() as session:
        people = await load_people(session)
    hits = scan(files, people)
    if hits:
        raise SiteError(refusal(hits))
    return files


@dataclass(frozen=True)
class Stamp:
    """What the site's content can change with, read cheaply: the bureau's date (a
    confidential campaign's targets open when its checks end), the published results (how
    many, the newest), and the audit log's newest entry (every other change the site shows — a
    draw, a plan, the item list — is recorded there, among much that it does not show). The
    same stamp means a build would give the same bytes."""

    today: dt.date
    published: tuple[int, dt.datetime | None]
    head: int

    def urgent_since(self, before: Stamp | None) -> bool:
        """Whether the public must see the change at once: a new day or new results; other
        changes may wait a little (they come in bursts while officers work)."""
        return before is None or (self.today, self.published) != (before.today, before.published)


async def stamp(factory: async_sessionmaker[AsyncSession], context: SiteContext) -> Stamp:
    async with factory() as session:
        head = await audit_db.head(session)
        published = await publication_db.published_stamp(session)
    return Stamp(context.today, published, head[0] if head else 0)


def refusal(hits: Sequence[Hit]) -> str:
    return text("site.refused", count=len(hits), lines=[hit_line(h) for h in hits])
