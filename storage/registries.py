"""Reading and writing the registries as plain records (dicts keyed by English field names).

Owns the mapping between sheet records and the models, the look-ups that find the stored
counterpart of each incoming record, the checks only the database can answer (does this unit
exist, is this account someone else's), and the writes. One store per registry kind; each sees
records in batches so that 100,000-row imports stay in bounded memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

from sqlalchemy import Select, Table, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import (
    Certificate,
    CertificateStatus,
    CreditGrade,
    Entity,
    EntityStatus,
    Person,
    Recusal,
    SpotCheckItem,
    Unit,
    UnitKind,
)
from storage.officers import newest_certificate

Record = dict[str, Any]
_PAGE = 2000
ROLE_COLUMNS = {
    "officer": "is_officer",
    "leader": "is_leader",
    "admin": "is_admin",
    "witness": "is_witness",
}


@dataclass(frozen=True)
class Conflict:
    """A record the database refuses: which record (index in the batch), which field, why."""

    index: int
    column: str  # the field name
    reason: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Write:
    """A record to store, with its stored counterpart (None when it is new)."""

    record: Record
    before: Record | None


async def _pairs(session: AsyncSession, query: Select[Any, Any]) -> dict[Any, Any]:
    """A two-column query as a dict (a Result has .keys(), so dict(result) would misread it)."""
    return {key: value for key, value in await session.execute(query)}


class Store:
    """What the importer and exporter need from one registry kind."""

    kind: ClassVar[str]

    async def stored(self, session: AsyncSession, records: Sequence[Record]) -> list[Record | None]:
        """The stored record each incoming record would update, or None where it is new."""
        raise NotImplementedError

    async def conflicts(self, session: AsyncSession, records: Sequence[Record]) -> list[Conflict]:
        return []

    async def save(
        self, session: AsyncSession, writes: Sequence[Write], actor: str, at: dt.datetime
    ) -> None:
        raise NotImplementedError

    def export(self, session: AsyncSession) -> AsyncIterator[Record]:
        raise NotImplementedError


class UnitStore(Store):
    kind = "units"

    async def stored(self, session: AsyncSession, records: Sequence[Record]) -> list[Record | None]:
        names = [r["name"] for r in records]
        rows = (await session.execute(select(Unit).where(Unit.name.in_(names)))).scalars()
        found = {u.name: {"name": u.name, "kind": u.kind.value} for u in rows}
        return [found.get(r["name"]) for r in records]

    async def save(
        self, session: AsyncSession, writes: Sequence[Write], actor: str, at: dt.datetime
    ) -> None:
        for w in writes:
            kind = UnitKind(w.record["kind"])
            if w.before is None:
                session.add(Unit(name=w.record["name"], kind=kind))
            else:
                await session.execute(
                    update(Unit).where(Unit.name == w.record["name"]).values(kind=kind)
                )
        await session.flush()

    async def export(self, session: AsyncSession) -> AsyncIterator[Record]:
        for unit in (await session.execute(select(Unit).order_by(Unit.name))).scalars():
            yield {"name": unit.name, "kind": unit.kind.value}


def _officer_record(person: Person, certificate: Certificate | None) -> Record:
    return {
        "certificate_no": certificate.number if certificate else None,
        "name": person.name,
        "unit": person.unit.name,
        "roles": tuple(role for role, col in ROLE_COLUMNS.items() if getattr(person, col)),
        "team_leader_eligible": person.team_leader_eligible,
        "certificate_authority": certificate.authority if certificate else None,
        "certificate_valid_until": certificate.valid_until if certificate else None,
        "certificate_status": certificate.status.value if certificate else None,
        "specialties": tuple(person.specialties),
        "wecom_userid": person.wecom_userid,
        "dingtalk_userid": person.dingtalk_userid,
    }


class OfficerStore(Store):
    """People with their roles, platform accounts and enforcement certificates.

    A row is matched to a person by certificate number, else by WeCom account, else by DingTalk
    account; a known person (same accounts, same name) with a new certificate number gets that
    certificate added (renewal), and the old one stays on record.
    """

    kind = "officers"

    async def _match(
        self, session: AsyncSession, records: Sequence[Record]
    ) -> tuple[list[Person | None], dict[str, Person], dict[str, Person]]:
        numbers = [r["certificate_no"] for r in records if r["certificate_no"]]
        wecom = [r["wecom_userid"] for r in records if r["wecom_userid"]]
        dingtalk = [r["dingtalk_userid"] for r in records if r["dingtalk_userid"]]
        query = select(Person).options(selectinload(Person.unit), selectinload(Person.certificates))
        by_number: dict[str, Person] = {}
        if numbers:
            rows = await session.execute(
                query.join(Certificate).where(Certificate.number.in_(numbers))
            )
            for person in rows.unique().scalars():
                for cert in person.certificates:
                    by_number[cert.number] = person
        by_wecom = {
            p.wecom_userid: p
            for p in (await session.execute(query.where(Person.wecom_userid.in_(wecom)))).scalars()
            if p.wecom_userid
        }
        by_dingtalk = {
            p.dingtalk_userid: p
            for p in (
                await session.execute(query.where(Person.dingtalk_userid.in_(dingtalk)))
            ).scalars()
            if p.dingtalk_userid
        }
        matched = []
        for r in records:
            by_account = by_wecom.get(r["wecom_userid"] or "") or by_dingtalk.get(
                r["dingtalk_userid"] or ""
            )
            if r["certificate_no"] and by_account is not None and by_account.name != r["name"]:
                # A new certificate under someone else's name is not a renewal: more likely a
                # mistyped account, which conflicts() reports rather than renaming that person.
                by_account = None
            matched.append(by_number.get(r["certificate_no"] or "") or by_account)
        return matched, by_wecom, by_dingtalk

    async def stored(self, session: AsyncSession, records: Sequence[Record]) -> list[Record | None]:
        matched, _, _ = await self._match(session, records)
        result: list[Record | None] = []
        for record, person in zip(records, matched, strict=True):
            if person is None:
                result.append(None)
                continue
            if record["certificate_no"]:
                same = [c for c in person.certificates if c.number == record["certificate_no"]]
                certificate = same[0] if same else newest_certificate(person.certificates)
                result.append(_officer_record(person, certificate))
            else:
                # A row without a certificate speaks only for the person, never removes one.
                result.append(_officer_record(person, None))
        return result

    async def conflicts(self, session: AsyncSession, records: Sequence[Record]) -> list[Conflict]:
        matched, by_wecom, by_dingtalk = await self._match(session, records)
        unit_names = {r["unit"] for r in records}
        units = set(
            (await session.execute(select(Unit.name).where(Unit.name.in_(unit_names)))).scalars()
        )
        found = []
        for index, (record, person) in enumerate(zip(records, matched, strict=True)):
            if record["unit"] not in units:
                found.append(Conflict(index, "unit", "unknown_unit", {"value": record["unit"]}))
            for name, owners in (("wecom_userid", by_wecom), ("dingtalk_userid", by_dingtalk)):
                owner = owners.get(record[name] or "")
                if owner is not None and owner is not person:
                    found.append(Conflict(index, name, "account_taken", {"owner": owner.name}))
        return found

    async def save(
        self, session: AsyncSession, writes: Sequence[Write], actor: str, at: dt.datetime
    ) -> None:
        records = [w.record for w in writes]
        matched, _, _ = await self._match(session, records)
        unit_ids = await _pairs(
            session, select(Unit.name, Unit.id).where(Unit.name.in_({r["unit"] for r in records}))
        )
        for record, person in zip(records, matched, strict=True):
            values = {
                "name": record["name"],
                "unit_id": unit_ids[record["unit"]],
                "team_leader_eligible": record["team_leader_eligible"],
                "specialties": list(record["specialties"]),
                "wecom_userid": record["wecom_userid"],
                "dingtalk_userid": record["dingtalk_userid"],
                **{col: role in record["roles"] for role, col in ROLE_COLUMNS.items()},
            }
            if person is None:
                person = Person(**values)
                session.add(person)
                await session.flush()
                certificates: list[Certificate] = []
            else:
                await session.execute(update(Person).where(Person.id == person.id).values(values))
                certificates = list(person.certificates)
            number = record["certificate_no"]
            if not number:
                continue
            cert_values = {
                "authority": record["certificate_authority"],
                "valid_until": record["certificate_valid_until"],
                "status": CertificateStatus(record["certificate_status"]),
            }
            if any(c.number == number for c in certificates):
                await session.execute(
                    update(Certificate).where(Certificate.number == number).values(cert_values)
                )
            else:
                session.add(Certificate(person_id=person.id, number=number, **cert_values))
        await session.flush()

    async def export(self, session: AsyncSession) -> AsyncIterator[Record]:
        people = (
            await session.execute(
                select(Person).options(selectinload(Person.unit), selectinload(Person.certificates))
            )
        ).scalars()
        records = [_officer_record(p, newest_certificate(p.certificates)) for p in people]
        # Certified people first in certificate order, then the rest by their accounts.
        records.sort(
            key=lambda r: (
                r["certificate_no"] is None,
                r["certificate_no"] or "",
                r["wecom_userid"] or "",
                r["dingtalk_userid"] or "",
            )
        )
        for record in records:
            yield record


_ENTITY_FIELDS = (
    "uscc",
    "name",
    "address",
    "district",
    "grid",
    "industry",
    "employee_count",
    "credit_grade",
    "complaints_12m",
    "serious_violation",
    "status",
    "last_inspected",
)


def _entity_record(row: Any) -> Record:
    record = {name: getattr(row, name) for name in _ENTITY_FIELDS}
    record["credit_grade"] = row.credit_grade.value if row.credit_grade else None
    record["status"] = row.status.value
    return record


def _entity_values(record: Record) -> dict[str, Any]:
    values = {name: record[name] for name in _ENTITY_FIELDS}
    values["credit_grade"] = CreditGrade(record["credit_grade"]) if record["credit_grade"] else None
    values["status"] = EntityStatus(record["status"])
    return values


class EntityStore(Store):
    """Employers, written in bulk: this registry runs to hundreds of thousands of rows."""

    kind = "entities"

    async def stored(self, session: AsyncSession, records: Sequence[Record]) -> list[Record | None]:
        codes = [r["uscc"] for r in records]
        rows = await session.execute(select(Entity).where(Entity.uscc.in_(codes)))
        found = {e.uscc: _entity_record(e) for e in rows.scalars()}
        return [found.get(c) for c in codes]

    async def save(
        self, session: AsyncSession, writes: Sequence[Write], actor: str, at: dt.datetime
    ) -> None:
        new = [_entity_values(w.record) for w in writes if w.before is None]
        if new:
            await session.execute(cast(Table, Entity.__table__).insert(), new)
        changed = [w.record for w in writes if w.before is not None]
        if changed:
            ids = await _pairs(
                session,
                select(Entity.uscc, Entity.id).where(Entity.uscc.in_([r["uscc"] for r in changed])),
            )
            await session.execute(
                update(Entity), [{"id": ids[r["uscc"]], **_entity_values(r)} for r in changed]
            )

    async def export(self, session: AsyncSession) -> AsyncIterator[Record]:
        last = ""
        while True:
            page = (
                (
                    await session.execute(
                        select(Entity).where(Entity.uscc > last).order_by(Entity.uscc).limit(_PAGE)
                    )
                )
                .scalars()
                .all()
            )
            for entity in page:
                yield _entity_record(entity)
            if len(page) < _PAGE:
                return
            last = page[-1].uscc
            session.expunge_all()  # keep memory flat across pages


def _item_record(item: SpotCheckItem) -> Record:
    return {
        "code": item.code,
        "name": item.name,
        "subject": item.subject,
        "legal_basis": item.legal_basis,
        "content": item.content,
        "method": tuple(item.methods),
        "default_ratio": item.default_ratio,
        "frequency_per_year": item.frequency_per_year,
        "valid_from": item.valid_from,
        "valid_to": item.valid_to,
    }


async def current_items(
    session: AsyncSession, codes: Sequence[str] | None = None
) -> list[SpotCheckItem]:
    """The newest version of each item (optionally of the given codes), by code."""
    newest = select(SpotCheckItem.code, func.max(SpotCheckItem.version).label("version"))
    if codes is not None:
        newest = newest.where(SpotCheckItem.code.in_(codes))
    latest = newest.group_by(SpotCheckItem.code).subquery()
    query = (
        select(SpotCheckItem)
        .join(
            latest,
            (SpotCheckItem.code == latest.c.code) & (SpotCheckItem.version == latest.c.version),
        )
        .order_by(SpotCheckItem.code)
    )
    return list((await session.execute(query)).scalars())


async def item_versions(session: AsyncSession) -> list[SpotCheckItem]:
    """Every version of every item, by code and version: the list's whole history."""
    query = select(SpotCheckItem).order_by(SpotCheckItem.code, SpotCheckItem.version)
    return list((await session.execute(query)).scalars())


def _only_end_changed(item: SpotCheckItem, record: Record) -> bool:
    current = _item_record(item)
    return {**current, "valid_to": record["valid_to"]} == record


class ItemStore(Store):
    """The versioned item list: a change closes the current version and adds the next.

    A new version must start after the current one did, so published history is never
    rewritten; setting only the end date closes the current version where it stands.
    """

    kind = "items"

    async def conflicts(self, session: AsyncSession, records: Sequence[Record]) -> list[Conflict]:
        current = {i.code: i for i in await current_items(session, [r["code"] for r in records])}
        found = []
        for index, record in enumerate(records):
            item = current.get(record["code"])
            if item is None or _item_record(item) == record or _only_end_changed(item, record):
                continue
            if record["valid_from"] <= item.valid_from:
                found.append(
                    Conflict(
                        index,
                        "valid_from",
                        "item_date_not_later",
                        {"current": item.valid_from.isoformat()},
                    )
                )
        return found

    async def stored(self, session: AsyncSession, records: Sequence[Record]) -> list[Record | None]:
        found = {
            i.code: _item_record(i)
            for i in await current_items(session, [r["code"] for r in records])
        }
        return [found.get(r["code"]) for r in records]

    async def save(
        self, session: AsyncSession, writes: Sequence[Write], actor: str, at: dt.datetime
    ) -> None:
        current = {
            i.code: i for i in await current_items(session, [w.record["code"] for w in writes])
        }
        for w in writes:
            record = w.record
            previous = current.get(record["code"])
            if previous is not None and _only_end_changed(previous, record):
                previous.valid_to = record["valid_to"]
                continue
            if previous is not None:
                # The old version stops the day before the new one starts (never later than it
                # already stopped); a same-day correction leaves it never in force.
                end = record["valid_from"] - dt.timedelta(days=1)
                if previous.valid_to is None or previous.valid_to > end:
                    previous.valid_to = end
            session.add(
                SpotCheckItem(
                    code=record["code"],
                    version=1 if previous is None else previous.version + 1,
                    name=record["name"],
                    subject=record["subject"],
                    legal_basis=record["legal_basis"],
                    content=record["content"],
                    methods=list(record["method"]),
                    default_ratio=record["default_ratio"],
                    frequency_per_year=record["frequency_per_year"],
                    valid_from=record["valid_from"],
                    valid_to=record["valid_to"],
                    changed_by=actor,
                    changed_at=at,
                )
            )
        await session.flush()

    async def export(self, session: AsyncSession) -> AsyncIterator[Record]:
        for item in await current_items(session):
            yield _item_record(item)


class RecusalStore(Store):
    kind = "recusals"

    async def _ids(
        self, session: AsyncSession, records: Sequence[Record]
    ) -> tuple[dict[str, int], dict[str, int]]:
        people = await _pairs(
            session,
            select(Certificate.number, Certificate.person_id).where(
                Certificate.number.in_({r["certificate_no"] for r in records})
            ),
        )
        entities = await _pairs(
            session,
            select(Entity.uscc, Entity.id).where(Entity.uscc.in_({r["uscc"] for r in records})),
        )
        return people, entities

    async def stored(self, session: AsyncSession, records: Sequence[Record]) -> list[Record | None]:
        people, entities = await self._ids(session, records)
        pairs = [
            (people[r["certificate_no"]], entities[r["uscc"]])
            for r in records
            if r["certificate_no"] in people and r["uscc"] in entities
        ]
        found: dict[tuple[int, int], Recusal] = {}
        if pairs:
            rows = await session.execute(
                select(Recusal).where(tuple_(Recusal.person_id, Recusal.entity_id).in_(pairs))
            )
            found = {(r.person_id, r.entity_id): r for r in rows.scalars()}
        result: list[Record | None] = []
        for r in records:
            recusal = found.get((people.get(r["certificate_no"], 0), entities.get(r["uscc"], 0)))
            result.append(
                None
                if recusal is None
                else {**r, "reason": recusal.reason, "declared_on": recusal.declared_on}
            )
        return result

    async def conflicts(self, session: AsyncSession, records: Sequence[Record]) -> list[Conflict]:
        people, entities = await self._ids(session, records)
        found = []
        pairs: set[tuple[int, int]] = set()
        for index, r in enumerate(records):
            # Two certificate numbers of one person (before and after a renewal) are one officer.
            pair = (people.get(r["certificate_no"], -1), entities.get(r["uscc"], -1))
            if -1 not in pair and pair in pairs:
                found.append(Conflict(index, "certificate_no", "duplicate_pair"))
            pairs.add(pair)
            if r["certificate_no"] not in people:
                found.append(
                    Conflict(
                        index,
                        "certificate_no",
                        "unknown_certificate",
                        {"value": r["certificate_no"]},
                    )
                )
            if r["uscc"] not in entities:
                found.append(Conflict(index, "uscc", "unknown_entity", {"value": r["uscc"]}))
        return found

    async def save(
        self, session: AsyncSession, writes: Sequence[Write], actor: str, at: dt.datetime
    ) -> None:
        people, entities = await self._ids(session, [w.record for w in writes])
        for w in writes:
            person_id, entity_id = people[w.record["certificate_no"]], entities[w.record["uscc"]]
            values = {"reason": w.record["reason"], "declared_on": w.record["declared_on"]}
            if w.before is None:
                session.add(Recusal(person_id=person_id, entity_id=entity_id, **values))
            else:
                await session.execute(
                    update(Recusal)
                    .where(Recusal.person_id == person_id, Recusal.entity_id == entity_id)
                    .values(values)
                )
        await session.flush()

    async def export(self, session: AsyncSession) -> AsyncIterator[Record]:
        """One row per recusal, naming the officer by their newest certificate."""
        rows = (
            await session.execute(
                select(Recusal.person_id, Entity.uscc, Recusal.reason, Recusal.declared_on).join(
                    Entity, Entity.id == Recusal.entity_id
                )
            )
        ).all()
        certificates = await session.execute(
            select(Certificate).where(Certificate.person_id.in_({r[0] for r in rows}))
        )
        by_person: dict[int, list[Certificate]] = {}
        for certificate in certificates.scalars():
            by_person.setdefault(certificate.person_id, []).append(certificate)
        records = []
        for person_id, uscc, reason, declared_on in rows:
            newest = newest_certificate(by_person.get(person_id, []))
            if newest is not None:
                records.append(
                    {
                        "certificate_no": newest.number,
                        "uscc": uscc,
                        "reason": reason,
                        "declared_on": declared_on,
                    }
                )
        records.sort(key=lambda r: (r["certificate_no"], r["uscc"]))
        for record in records:
            yield record


STORES: dict[str, Store] = {
    s.kind: s for s in (UnitStore(), OfficerStore(), EntityStore(), ItemStore(), RecusalStore())
}
