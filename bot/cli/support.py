"""What every ``suiji`` command shares: settings, the database, errors and progress.

Owns turning a command's work into an event-loop run against a migrated database, and turning
known failures into a short Chinese message with exit status 1 instead of a traceback.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.base.config import Settings
from bot.base.texts import render, text
from storage import migrate
from storage.engine import make_engine, make_session_factory

T = TypeVar("T")
Factory = async_sessionmaker[AsyncSession]


class Refused(click.ClickException):
    """A failure already explained to the user; exits 1 after printing the message."""

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


# A record's number (campaign, team, decision…): the database keeps 32-bit integers, and a
# bigger number typed would reach it and fail with a traceback (SQLite's OverflowError).
ID = click.IntRange(1, 2**31 - 1)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_moment(value: str, zone: dt.tzinfo) -> dt.datetime:
    """A moment a person typed ("2026-12-10 09:00"), local time unless it names its zone."""
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise Refused(text("cli.bad_moment", value=value)) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def progress(items: Iterable[T], label: str, total: int | None) -> Iterable[T]:
    from tqdm import tqdm

    # tqdm hides itself when stderr is not a terminal (disable=None): logs stay clean.
    bar: Iterable[T] = tqdm(
        items, desc=label, total=total, unit=text("cli.progress_unit"), disable=None, leave=False
    )
    return bar


def database_name(url: str) -> str:
    """How messages name a database: a SQLite file's path, else its URL without the password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return parsed.render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL (None for other backends and in-memory ones)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def require_database(settings: Settings) -> None:
    """Refuse the built-in default database: nobody chose it (no config file, no variable)."""
    if not settings.database.chosen:
        # Falling back to ./suiji.db would make an empty database wherever suiji was run.
        raise Refused(text("cli.no_config", cwd=str(Path.cwd())))


async def with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    require_database(settings)
    name = database_name(settings.database.url)
    engine = make_engine(settings.database.url, echo=settings.database.echo)
    try:
        return await work(engine)
    except (IntegrityError, DataError) as exc:
        # The database refused a write that the checks before it let through.
        detail = _first_line(exc.orig or exc)
        raise Refused(text("cli.db_refused", database=name, detail=detail)) from exc
    except (OperationalError, InterfaceError, DBAPIError, OSError) as exc:
        detail = _first_line(getattr(exc, "orig", None) or exc)
        raise Refused(text("cli.db_unreachable", database=name, detail=detail)) from exc
    finally:
        await engine.dispose()


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


async def ready(engine: AsyncEngine) -> Factory:
    """A session factory, once the schema is known to be at the newest migration."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    if await migrate.current_revision(engine) != head:
        raise Refused(text("cli.db_not_ready", database=database_name(str(engine.url))))
    return make_session_factory(engine)


def settings_of(ctx: click.Context) -> Settings:
    settings: Settings = ctx.find_root().obj["settings"]()
    return settings


def zone_of(ctx: click.Context) -> str:
    """The zone people read times in (``app.timezone``)."""
    return settings_of(ctx).app.timezone


def run_with_db(ctx: click.Context, work: Callable[[Factory], Awaitable[T]]) -> T:
    """Run ``work`` in a fresh event loop against the configured, migrated database."""
    settings = settings_of(ctx)
    missing = sqlite_file(settings.database.url)
    if settings.database.chosen and missing is not None and not missing.exists():
        # Opening it would create an empty file; only `db upgrade` (or `init`) makes one.
        raise Refused(text("cli.no_database", database=str(missing)))

    async def go(engine: AsyncEngine) -> T:
        return await work(await ready(engine))

    return asyncio.run(with_engine(settings, go))


def explained(*kinds: type[Exception]) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Turn the given exceptions (already worded for people) into a refusal with exit 1."""

    def decorate(func: Callable[..., T]) -> Callable[..., T]:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            try:
                return func(*args, **kwargs)
            except kinds as exc:
                message = exc.message() if hasattr(exc, "message") else str(exc)
                raise Refused(message) from exc

        return wrapper

    return decorate


def emit(fmt: str, value: Any, template: str, *, nl: bool = True, **context: Any) -> None:
    """Print ``value`` as JSON for programs, or ``template`` rendered for people."""
    if fmt == "json":
        click.echo(json.dumps(value, ensure_ascii=False, indent=2))
    else:
        click.echo(render(template, **context), nl=nl)
