"""Whom the personal-data scan looks for, read from the registries on every backend: every
person's name and accounts, and the employers' and units' names and codes that are public."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.registry.personal import Kind, find
from bot.workflows.publish import people_to_look_for
from storage.models import Entity, Person, Unit
from tests.helpers import load_sample

pytestmark = pytest.mark.db

Factory = async_sessionmaker[AsyncSession]


async def test_the_sample_registries_people_and_public_names(
    factory: Factory, clock: Callable[[], dt.datetime]
) -> None:
    await load_sample(factory, clock)
    people = await people_to_look_for(factory)
    async with factory() as session:
        persons = (await session.execute(select(Person))).scalars().all()
        employers = (await session.execute(select(Entity))).scalars().all()
        units = (await session.execute(select(Unit.name))).scalars().all()
    assert len(people.persons) == len(persons) == 44
    zhang = next(p for p in people.persons if p.name == "张凯")
    assert zhang.accounts == ("zhangkai", "0516754045645063")
    assert people.public_codes == {e.uscc for e in employers}
    assert people.public_names == {e.name for e in employers} | set(units)
    # Leaders, witnesses (监督人) and admins are looked for like officers.
    assert {p.name for p in people.persons} == {p.name for p in persons}
    assert any(p.is_witness and not p.is_officer for p in persons)
    assert any(p.is_admin and not p.is_officer for p in persons)
    line = f"{employers[0].name} {employers[0].uscc} 检查人员张凯 zhangkai"
    assert [f.kind for f in find(line, people)] == [Kind.NAME, Kind.ACCOUNT]


async def test_an_empty_registry_looks_for_nobody(factory: Factory) -> None:
    people = await people_to_look_for(factory)
    assert people.persons == () and not people.public_names and not people.public_codes
    assert find("张凯 13912345678", people)[0].kind is Kind.MOBILE
