"""Personal data in text: what may never be published (issue 17 §4).

Finds, in one string, resident ID numbers (18 characters with the GB 11643 check character and
a real birth date; 15-digit old ones with a real date), mainland mobile numbers, bank card
numbers (Luhn), e-mail addresses, and the names and platform accounts of the people in the
registries. Pure: a function of the text and of what the registries say; knows nothing about
files (bot.registry.scan reads them) or storage.

The rules that keep public data out of the hits:

- A unified social credit code is public by law. An 18-character token with a valid GB 32100
  check character is never a bank card or mobile number. It is not an ID number either when it
  is a registry employer's code, or when its first two characters are no province code (every
  code a market regulator issues begins 91, 92 or 93, which no ID number does). A code of
  another registering body that also passes the ID check and is no registry employer's code
  is reported: the scanner errs on the side of a hit, which a person then looks at.
- A person's name is matched wherever it stands (Chinese has no word breaks), except inside a
  longer public name that contains it: 华美 in 睢县华美物流有限公司 is the employer, not a
  person. Public names are the registered names of the registry's employers and the bureau's
  units.
- An employer whose registered name *is* a person's name (a 个体工商户 registered under its
  owner's name that equals a registry person's) publishes that name by law: it is not a hit
  where it stands as a whole field (a cell, a JSON string, an HTML text or attribute value, a
  line of text) — the way a results table names the employer — and it is a hit anywhere inside
  running text, where the scanner cannot tell the employer from the person.
- A hexadecimal digest (32 characters or more, as SHA-256 sums are printed) holds no numbers of
  anyone's, whatever digit runs it contains.
- Names shorter than two characters and accounts shorter than three are not looked for: they
  would match everywhere and prove nothing.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.registry.uscc import uscc_problem

# GB 11643-1999: weights of the first 17 digits, and the check character by the sum mod 11.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
# The first two digits of an ID number: provinces (GB/T 2260), Taiwan 71, Hong Kong 81,
# Macao 82, and 83 of the residence permits of Hong Kong, Macao and Taiwan residents.
PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)
FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR = 1900, 2099
MIN_NAME, MIN_ACCOUNT = 2, 3
Span = tuple[int, int]


class Kind(enum.Enum):
    """What a hit is; each has a Chinese label in templates/text/publish.txt.j2."""

    ID_NUMBER = "id_number"
    MOBILE = "mobile"
    BANK_CARD = "bank_card"
    EMAIL = "email"
    NAME = "name"
    ACCOUNT = "account"


# When two findings overlap, the earlier and longer one stands; on the very same span, this
# order decides (a DingTalk userid that happens to pass Luhn is an account).
_PRIORITY = (Kind.ID_NUMBER, Kind.ACCOUNT, Kind.EMAIL, Kind.BANK_CARD, Kind.MOBILE, Kind.NAME)

_USCC = re.compile(r"(?<![0-9A-Za-z])[0-9A-Z]{18}(?![0-9A-Za-z])")
# A digest as the site and the draw record print them (SHA-256, the chain head): the digit runs
# inside one are no numbers of anyone's.
_DIGEST = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-f]{32,}|[0-9A-F]{32,})(?![0-9A-Za-z])")
_ID18 = re.compile(r"(?<!\d)\d{17}[\dXx](?![\dXx])")
_ID15 = re.compile(r"(?<!\d)\d{15}(?![\dXx])")
_MOBILE = re.compile(r"(?<![\d+])(?:\+86[ -]?)?1[3-9]\d([ -]?)\d{4}\1\d{4}(?!\d)")
_CARD = re.compile(r"(?<!\d)(?:\d{13,19}|\d{4}([ -])\d{4}(?:\1\d{4}){1,3}(?:\1\d{1,3})?)(?!\d)")
# An account is a whole word: WeCom and DingTalk userids are letters, digits and _ (DingTalk's
# are often all digits), matched without regard to case.
_ACCOUNT_EDGES = (r"(?<![A-Za-z0-9_])", r"(?![A-Za-z0-9_])")
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)


@dataclass(frozen=True)
class Person:
    """What the scanner knows of one registry person: their name and platform accounts."""

    name: str
    accounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class People:
    """Whom to look for, and what is public: employers' and units' names, employers' USCCs."""

    persons: tuple[Person, ...] = ()
    public_names: frozenset[str] = frozenset()
    public_codes: frozenset[str] = frozenset()
    _names: re.Pattern[str] | None = field(default=None, init=False, compare=False, repr=False)
    _accounts: re.Pattern[str] | None = field(default=None, init=False, compare=False, repr=False)
    _public: re.Pattern[str] | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        names = {p.name.strip() for p in self.persons if len(p.name.strip()) >= MIN_NAME}
        accounts = {
            a.strip() for p in self.persons for a in p.accounts if len(a.strip()) >= MIN_ACCOUNT
        }
        public = {n for n in self.public_names if n.strip()}
        object.__setattr__(self, "_names", _alternation(names))
        object.__setattr__(self, "_accounts", _alternation(accounts, _ACCOUNT_EDGES, re.IGNORECASE))
        object.__setattr__(self, "_public", _alternation(public))


def _alternation(
    words: Iterable[str], edges: tuple[str, str] = ("", ""), flags: int = 0
) -> re.Pattern[str] | None:
    """One pattern for all ``words``, the longest tried first; None when there are none."""
    ordered = sorted(set(words), key=lambda w: (-len(w), w))
    if not ordered:
        return None
    body = "|".join(re.escape(w) for w in ordered)
    return re.compile(f"{edges[0]}(?:{body}){edges[1]}", flags)


@dataclass(frozen=True)
class Found:
    """One piece of personal data in a string: its kind and where it stands (``start:end``)."""

    kind: Kind
    start: int
    end: int
    text: str

    @property
    def masked(self) -> str:
        return mask(self.kind, self.text)


def id_check_character(first17: str) -> str:
    """The GB 11643 check character of an ID number's first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def _real_date(year: int, month: int, day: int) -> bool:
    if not FIRST_BIRTH_YEAR <= year <= LAST_BIRTH_YEAR:
        return False
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def is_id_number(value: str) -> bool:
    """An 18-character ID number with a valid check character and birth date, or a 15-digit
    old one (born 19yy) with a real date; both with a province code in front."""
    if len(value) == 18 and value[:17].isdigit() and value[17] in "0123456789Xx":
        born = (int(value[6:10]), int(value[10:12]), int(value[12:14]))
        check_ok = id_check_character(value[:17]) == value[17].upper()
        return int(value[:2]) in PROVINCES and _real_date(*born) and check_ok
    if len(value) == 15 and value.isdigit():
        born = (1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))
        return int(value[:2]) in PROVINCES and _real_date(*born)
    return False


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _inside(start: int, end: int, spans: Iterable[Span]) -> bool:
    return any(s <= start and end <= e for s, e in spans)


def _public_codes(value: str, people: People) -> tuple[list[Span], list[Span]]:
    """Spans of valid USCCs (never cards or mobiles), and those that are no ID number either."""
    codes: list[Span] = []
    not_ids: list[Span] = []
    for m in _USCC.finditer(value):
        token = m.group()
        if uscc_problem(token) is not None:
            continue
        codes.append(m.span())
        prefix = token[:2]
        if token in people.public_codes or not prefix.isdigit() or int(prefix) not in PROVINCES:
            not_ids.append(m.span())
    digests = [m.span() for m in _DIGEST.finditer(value) if not m.group().isdigit()]
    return codes + digests, not_ids + digests


def _numbers(value: str, people: People) -> Iterable[Found]:
    codes, not_ids = _public_codes(value, people)
    for pattern in (_ID18, _ID15):
        for m in pattern.finditer(value):
            if is_id_number(m.group()) and not _inside(*m.span(), not_ids):
                yield Found(Kind.ID_NUMBER, m.start(), m.end(), m.group())
    for m in _CARD.finditer(value):
        digits = _digits(m.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and not _inside(*m.span(), codes):
            yield Found(Kind.BANK_CARD, m.start(), m.end(), m.group())
    for m in _MOBILE.finditer(value):
        if not _inside(*m.span(), codes):
            yield Found(Kind.MOBILE, m.start(), m.end(), m.group())
    for m in _EMAIL.finditer(value):
        yield Found(Kind.EMAIL, m.start(), m.end(), m.group())


def _people(value: str, people: People) -> Iterable[Found]:
    if people._accounts is not None:
        for m in people._accounts.finditer(value):
            yield Found(Kind.ACCOUNT, m.start(), m.end(), m.group())
    if people._names is None:
        return
    public: list[Span] = []
    if people._public is not None:
        public = [m.span() for m in people._public.finditer(value)]
    whole = value.strip()
    for start, end in _overlapping(people._names, value):
        name = value[start:end]
        longer = [(s, e) for s, e in public if e - s > end - start]
        if _inside(start, end, longer) or (name == whole and name in people.public_names):
            continue
        yield Found(Kind.NAME, start, end, name)


def _overlapping(pattern: re.Pattern[str], value: str) -> Iterable[Span]:
    """Every place a name starts (names may overlap: 张凯 and 凯旋 in 张凯旋), longest first."""
    position = 0
    while (m := pattern.search(value, position)) is not None:
        yield m.span()
        position = m.start() + 1


def find(value: str, people: People) -> list[Found]:
    """Every piece of personal data in ``value``, in order; overlapping findings merged."""
    rank = {kind: i for i, kind in enumerate(_PRIORITY)}
    candidates = sorted(
        [*_numbers(value, people), *_people(value, people)],
        key=lambda f: (f.start, f.start - f.end, rank[f.kind]),
    )
    kept: list[Found] = []
    for found in candidates:
        if any(k.start < found.end and found.start < k.end for k in kept):
            continue
        kept.append(found)
    return kept


def mask(kind: Kind, value: str) -> str:
    """How a hit is shown: enough to find it again, not enough to read it."""
    if kind in (Kind.ID_NUMBER, Kind.BANK_CARD):
        compact = _digits(value) + ("X" if value[-1:] in "Xx" else "")
        return compact[:4] + "*" * (len(compact) - 8) + compact[-4:]
    if kind is Kind.MOBILE:
        compact = _digits(value)[-11:]
        return compact[:3] + "****" + compact[-4:]
    if kind is Kind.EMAIL:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if kind is Kind.NAME:
        return value[:1] + "*" * (len(value) - 1)
    return value[:2] + "*" * max(1, len(value) - 2)
