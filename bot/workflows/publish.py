"""Publication's use cases (issue 17): so far, whom the personal-data scan looks for.

The scan itself is bot.registry.scan (pure but for reading files); this reads the registries
it needs: every person (officers, leaders, witnesses, admins: names and WeCom / DingTalk
accounts), and what is public by law — the employers' registered names and USCCs, and the
bureau's units' names.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.registry.personal import People, Person
from storage.models import Entity, Unit
from storage.models import Person as PersonRow

Factory = async_sessionmaker[AsyncSession]


async def load_people(session: AsyncSession) -> People:
    rows = await session.execute(
        select(PersonRow.name, PersonRow.wecom_userid, PersonRow.dingtalk_userid).order_by(
            PersonRow.id
        )
    )
    persons = tuple(
        Person(name, tuple(a for a in (wecom, dingtalk) if a)) for name, wecom, dingtalk in rows
    )
    employers = (await session.execute(select(Entity.name, Entity.uscc))).all()
    units = (await session.execute(select(Unit.name))).scalars().all()
    return People(
        persons=persons,
        public_names=frozenset([name for name, _ in employers] + list(units)),
        public_codes=frozenset(uscc for _, uscc in employers),
    )


async def people_to_look_for(factory: Factory) -> People:
    """What the personal-data scan looks for, and what it lets stand, as the registries say."""
    async with factory() as session:
        return await load_people(session)
