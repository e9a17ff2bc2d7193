"""Who acts: every command that records an actor names a registry person with a fitting role.

Owns where the name comes from (``--as``, else ``SUIJI_AS``, else ``app.operator`` in suiji.toml;
never the login of whoever runs the command), that it names exactly one person in the registry,
and which roles may run which command (the table in the README). A refusal comes before anything
is written. The audit log and the records then carry that person's registered name.

Bootstrapping: before the registry has any admin there is nobody to check a name against, so
``registry import`` takes the name as given; the people file itself must then list that name
as an admin, so the first people imported always include the one importing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from bot.base.texts import text
from bot.cli.support import Factory, Refused, require_database, run_with_db, settings_of
from bot.registry.fields import labels
from storage.assignments import admins
from storage.campaigns import find_person
from storage.models import Person

T = TypeVar("T")
ADMIN, LEADER = "admin", "leader"
ACTOR_MAX = 100
ENV = "SUIJI_AS"


def actor_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--as NAME`` option, also read from ``SUIJI_AS``."""
    return click.option("--as", "actor", envvar=ENV, default=None)(func)


def _role_labels(roles: tuple[str, ...]) -> list[str]:
    return [labels("role")[role] for role in roles]


def given_actor(ctx: click.Context, value: str | None, roles: tuple[str, ...]) -> str:
    """The name the command acts as: ``--as`` / ``SUIJI_AS``, else ``app.operator``."""
    settings = settings_of(ctx)
    require_database(settings)  # first things first: which bureau, then who in it
    name = value.strip() if value and value.strip() else settings.app.operator.strip()
    if not name:
        raise Refused(text("cli.no_actor", roles=_role_labels(roles)))
    if len(name) > ACTOR_MAX or not name.isprintable():
        raise Refused(text("cli.bad_actor", max_length=ACTOR_MAX))
    return name


def has_role(person: Person, roles: tuple[str, ...]) -> bool:
    return any(getattr(person, f"is_{role}") for role in roles)


async def acting_person(session: AsyncSession, ref: str, roles: tuple[str, ...]) -> Person:
    """The registry person ``ref`` names, if they hold one of ``roles``; else refused."""
    person = await find_person(session, ref)
    if person is None:
        raise Refused(text("cli.unknown_actor", ref=ref))
    if not has_role(person, roles):
        raise Refused(text("cli.actor_role", name=person.name, roles=_role_labels(roles)))
    return person


def run_as(
    ctx: click.Context,
    value: str | None,
    roles: tuple[str, ...],
    work: Callable[[Factory, str], Awaitable[T]],
) -> T:
    """Check who acts, then run ``work`` with their registered name, in one database run."""
    ref = given_actor(ctx, value, roles)

    async def go(factory: Factory) -> T:
        async with factory() as session:
            person = await acting_person(session, ref, roles)
        return await work(factory, person.name)

    return run_with_db(ctx, go)


Check = Callable[[AsyncSession], Awaitable[None]]


async def importer_of(session: AsyncSession, ref: str, kind: str) -> tuple[str, Check | None]:
    """Who imports into a registry, and what must hold before the import commits: an admin's
    name; or, while there is no admin yet, the name as given (the people file must make it an
    admin)."""
    if await admins(session):
        return (await acting_person(session, ref, (ADMIN,))).name, None
    if kind != "officers":
        return ref, None

    async def made_admin(written: AsyncSession) -> None:
        person = await find_person(written, ref)
        if person is None or not person.is_admin:
            raise Refused(text("cli.first_admin", ref=ref))

    return ref, made_admin
