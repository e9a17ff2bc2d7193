"""The draw record: canonical JSON holding everything needed to recompute a draw, and its check.

Pure. A record is the commitment (frozen pools, strata, counts, algorithm, named entropy sources,
the SHA-256 of the system's secret) plus every run of the draw (entropy values, the revealed
secret, the key, and the results). :func:`first_difference` recomputes each run from the record's
own inputs with the same code that ran it and names the first thing that differs.

Digests: a pool's SHA-256 is taken over its entries joined by "\\n" (UTF-8, no final newline);
the employer pool's is over all strata entries together, sorted. The secret's commitment is the
SHA-256 of its decimal digits. The key is RFC 3797's, over the sources in their listed order and
then the secret as one more source of one number.

The runs are a chain: each run's ``sha256`` is the SHA-256 of the run without that field, as
canonical JSON, and covers ``previous_sha256`` — the commitment's SHA-256 for the first run, the
run before's ``sha256`` after that. So the last run's hash, the *chain head*, covers every run
and every field of each (when, the entropy, the results). A record cut after run k is still a
true record of k runs; only the run count and chain head published with the certificate tell it
was cut, and :func:`against_published` holds a record against them.

Private parts (``suiji-draw-record/3``): whatever names a person — who committed and who ran the
draw, the people's names behind certificate numbers, a witness source's name and description,
free-text reasons — sits in a ``private`` object beside the commitment and beside each run:
``{"salt": <random hex>, …}``. The hashed document carries only ``private_sha256``, the SHA-256
of the private part as canonical JSON (the salt makes names impossible to guess from it); the
commitment's and the runs' hashes leave ``private`` out. The bureau's full record keeps the
private parts and the check holds each against its digest; the *public record*
(:func:`public_record`) drops them and still recomputes every run, the chain and the commitment.
People appear in the hashed part by certificate number only (public by law), employers by USCC
and registered name. ``suiji-draw-record/2`` records (names inside the hashed runs) still verify;
they have no public form.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.draw.engine import DrawResult, Stratum, run_draw, stratum_count
from bot.draw.rfc3797 import format_key

RECORD_FORMAT = "suiji-draw-record/3"
FORMAT_V2 = "suiji-draw-record/2"  # names under the hashes: verifies, never published
FORMATS = (FORMAT_V2, RECORD_FORMAT)
PRIVATE = "private"


def canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sha256_text(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def pool_digest(entries: Sequence[str]) -> str:
    return sha256_text("\n".join(entries))


def draw_key(sources: Sequence[dict[str, Any]], values: dict[str, list[int]], secret: str) -> str:
    return format_key([values[s["name"]] for s in sources] + [[int(secret)]])


def strata_json(strata: Sequence[Stratum]) -> list[dict[str, Any]]:
    return [
        {
            "label": s.label,
            "ratio": f"{s.ratio_percent.normalize():f}",
            "minimum": s.minimum,
            "size": len(s.entries),
            "count": s.count,
            "sha256": pool_digest(s.entries),
            "entries": list(s.entries),
        }
        for s in strata
    ]


def strata_from_json(strata: Sequence[dict[str, Any]]) -> list[Stratum]:
    return [
        Stratum(s["label"], Decimal(s["ratio"]), int(s["minimum"]), tuple(s["entries"]))
        for s in strata
    ]


def commitment_document(
    *,
    campaign: dict[str, Any],
    algorithm: str,
    strata: Sequence[Stratum],
    officers: Sequence[str],
    leaders: Sequence[str],
    recusals: Sequence[tuple[str, str]],
    sources: Sequence[dict[str, Any]],
    secret_sha256: str,
    committed_at: str,
    private: dict[str, Any],
) -> dict[str, Any]:
    """The commitment of a v3 record, with ``private`` (the salted part: who committed, the
    witness sources as named, reasons) beside it and its digest inside. ``sources`` are as
    published (a witness by a label, not by name: bot.workflows.campaigns.public_sources)."""
    employers = sorted(e for s in strata for e in s.entries)
    document = {
        "format": RECORD_FORMAT,
        "campaign": campaign,
        "algorithm": algorithm,
        "committed_at": committed_at,
        "strata": strata_json(strata),
        "employer_pool_sha256": pool_digest(employers),
        "officers": {
            "size": len(officers),
            "sha256": pool_digest(officers),
            "entries": list(officers),
        },
        "leaders": list(leaders),
        "recusals": sorted([list(pair) for pair in recusals]),
        "entropy_sources": list(sources),
        "secret_sha256": secret_sha256,
    }
    return with_private(document, private)


def private_sha256(private: dict[str, Any]) -> str:
    return sha256_text(canonical(private))


def with_private(document: dict[str, Any], private: dict[str, Any]) -> dict[str, Any]:
    """``document`` carrying ``private`` beside it and its digest inside the hashed part."""
    return {**document, "private_sha256": private_sha256(private), PRIVATE: private}


def source_names(document: dict[str, Any]) -> dict[str, str]:
    """Each entropy source's name as the campaign gives it → its name in the record."""
    published = [s["name"] for s in document["entropy_sources"]]
    named = document.get(PRIVATE, {}).get("entropy_sources")
    given = [s["name"] for s in named] if named is not None else published
    return dict(zip(given, published, strict=True))


def public_record(record: dict[str, Any]) -> dict[str, Any] | None:
    """The record without its private parts — what may be published; None for a v2 record,
    whose runs hold people's names under their hashes."""
    if record.get("format") != RECORD_FORMAT:
        return None
    public = {k: v for k, v in record.items() if k != PRIVATE}
    public["draws"] = [{k: v for k, v in run.items() if k != PRIVATE} for run in record["draws"]]
    return public


def private_parts(record: dict[str, Any]) -> tuple[int, int]:
    """(private parts present, private parts the record's documents have digests for)."""
    documents = [record, *record.get("draws", [])]
    return (
        sum(PRIVATE in d for d in documents),
        sum("private_sha256" in d for d in documents),
    )


def private_difference(where: str, document: dict[str, Any], v3: bool) -> Difference | None:
    """A private part that does not hash to the digest its document carries (v3), or any
    private part at all where the format has none (v2)."""
    if not v3:
        if PRIVATE in document or "private_sha256" in document:
            return Difference(f"{where}{PRIVATE}", f"absent in {FORMAT_V2}", PRIVATE)
        return None
    digest = document.get("private_sha256")
    if type(digest) is not str or not re.fullmatch("[0-9a-f]{64}", digest):
        return Difference(f"{where}private_sha256", "a SHA-256", digest)
    if PRIVATE not in document:
        return None  # not published: the digest stands for it, covered by the hashes
    private = document[PRIVATE]
    if not isinstance(private, dict) or type(private.get("salt")) is not str:
        return Difference(f"{where}{PRIVATE}.salt", "a salt", private)
    return _compare(f"{where}private_sha256", private_sha256(private), digest)


def result_json(result: DrawResult, officers_per_team: int) -> dict[str, Any]:
    return {
        "picks": {
            label: [{"index": p.index, "position": p.position, "entry": p.entry} for p in picks]
            for label, picks in result.picks.items()
        },
        "officer_order": list(result.officer_order),
        "teams": [
            {
                "number": t.number,
                "leader": t.leader,
                "employers": list(t.employers),
                "officers": list(t.officers),
                "short_by": t.short_of(officers_per_team),
            }
            for t in result.teams
        ],
        "reserve": list(result.reserve),
    }


def recompute(
    commitment: dict[str, Any], values: dict[str, list[int]], secret: str
) -> tuple[str, dict[str, Any]]:
    """The key and the results a run with these entropy values and this secret must give."""
    campaign = commitment["campaign"]
    key = draw_key(commitment["entropy_sources"], values, secret)
    result = run_draw(
        commitment["algorithm"],
        key,
        strata_from_json(commitment["strata"]),
        commitment["officers"]["entries"],
        commitment["leaders"],
        campaign["teams"],
        campaign["officers_per_team"],
        frozenset((o, e) for o, e in commitment["recusals"]),
    )
    return key, result_json(result, campaign["officers_per_team"])


@dataclass(frozen=True)
class Difference:
    """Where a record disagrees with its own recomputation."""

    path: str
    expected: Any
    found: Any


def _compare(path: str, expected: Any, found: Any) -> Difference | None:
    if isinstance(expected, dict) and isinstance(found, dict):
        for key in sorted(set(expected) | set(found)):
            d = _compare(f"{path}.{key}", expected.get(key), found.get(key))
            if d:
                return d
        return None
    if isinstance(expected, list) and isinstance(found, list):
        for i, (e, f) in enumerate(zip(expected, found, strict=False)):
            d = _compare(f"{path}[{i}]", e, f)
            if d:
                return d
        if len(expected) != len(found):
            return Difference(f"{path}.length", len(expected), len(found))
        return None
    # Exact types: in Python false == 0 and 17.0 == 17, but a record saying so was changed.
    if type(expected) is type(found) and expected == found:
        return None
    return Difference(path, expected, found)


_RATIO = re.compile(r"^(100|[0-9]{1,2})(\.[0-9]{1,2})?$")


def _strictly_ascending(entries: list[Any]) -> bool:
    return all(type(e) is str for e in entries) and all(
        a < b for a, b in itertools.pairwise(entries)
    )


def _is_count(value: Any, minimum: int) -> bool:
    return type(value) is int and minimum <= value < 2**31


def _shape(record: dict[str, Any]) -> Difference | None:
    """The record's numbers are of the kinds a draw can have, before any arithmetic on them."""
    campaign = record["campaign"]
    teams = campaign["teams"]
    if teams is not None and not _is_count(teams, 1):
        return Difference("campaign.teams", "null or a whole number of at least 1", teams)
    if not _is_count(campaign["officers_per_team"], 2):
        return Difference("campaign.officers_per_team", "at least 2", campaign["officers_per_team"])
    labels = [s["label"] for s in record["strata"]]
    if len(set(labels)) != len(labels) or not all(type(x) is str for x in labels):
        return Difference("strata.label", "distinct names", labels)
    for i, s in enumerate(record["strata"]):
        if type(s["ratio"]) is not str or not _RATIO.match(s["ratio"]) or Decimal(s["ratio"]) > 100:
            return Difference(f"strata[{i}].ratio", "a percentage such as 30 or 2.5", s["ratio"])
        if not _is_count(s["minimum"], 0):
            return Difference(f"strata[{i}].minimum", "a whole number", s["minimum"])
    return None


def commitment_sha256(record: dict[str, Any]) -> str:
    """The digest published at commit: the record without its runs and its private part
    (covered by ``private_sha256``), canonical JSON."""
    return sha256_text(canonical({k: v for k, v in record.items() if k not in ("draws", PRIVATE)}))


def run_sha256(run: dict[str, Any]) -> str:
    """A run's link in the chain: the run without its own ``sha256`` and its private part,
    canonical JSON."""
    return sha256_text(canonical({k: v for k, v in run.items() if k not in ("sha256", PRIVATE)}))


def chained(run: dict[str, Any], previous_sha256: str) -> dict[str, Any]:
    """``run`` linked after the one whose hash is ``previous_sha256``, with its own hash."""
    linked = {**run, "previous_sha256": previous_sha256}
    return {**linked, "sha256": run_sha256(linked)}


def chain_heads(commitment: str, runs: Sequence[dict[str, Any]]) -> list[str]:
    """The chain head after 0, 1, … n runs: the commitment's SHA-256, then each run's."""
    return [commitment, *(run["sha256"] for run in runs)]


def broken_link(
    commitment: str, runs: Sequence[dict[str, Any]], v3: bool = True
) -> Difference | None:
    """The first run whose number, link to the one before, own hash or private part is not what
    it should be; None when the runs are an unbroken chain from the commitment."""
    previous = commitment
    for n, run in enumerate(runs):
        where = f"draws[{n}]"
        d = private_difference(f"{where}.", run, v3)
        if d:
            return d
        for name, expected, found in (
            ("seq", n + 1, run["seq"]),
            ("previous_sha256", previous, run["previous_sha256"]),
            ("sha256", run_sha256(run), run["sha256"]),
        ):
            d = _compare(f"{where}.{name}", expected, found)
            if d:
                return d
        previous = run["sha256"]
    return None


def against_published(
    record: dict[str, Any], runs: int | None, head: str | None
) -> tuple[str, dict[str, Any]]:
    """How a record that recomputes stands against the run count and chain head published
    with its certificate: ("cut", …) when it ends before the published run, ("head", …) when
    its chain head after that run is not the published one — both mean it is not the record
    that was published — ("later", …) when it holds runs made after, else ("same", …)."""
    heads = chain_heads(commitment_sha256(record), record["draws"])
    found = len(heads) - 1
    if runs is not None and found < runs:
        return "cut", {"found": found, "published": runs}
    at = found if runs is None else runs
    if head is not None and heads[at] != head:
        return "head", {"run": at, "found": heads[at], "published": head}
    if found > at:
        return "later", {"found": found, "published": at}
    return "same", {"found": found}


def first_difference(record: dict[str, Any]) -> Difference | None:
    """None when the record recomputes to itself; else the first thing that does not."""
    if record.get("format") not in FORMATS:
        return Difference("format", RECORD_FORMAT, record.get("format"))
    v3 = record["format"] == RECORD_FORMAT
    d = _shape(record) or private_difference("", record, v3)
    if d:
        return d
    employers: list[str] = []
    for i, s in enumerate(record["strata"]):
        entries = s["entries"]
        if not _strictly_ascending(entries):
            return Difference(f"strata[{i}].entries", "sorted, each once", entries[:5])
        checks = [
            ("size", len(entries), s["size"]),
            ("sha256", pool_digest(entries), s["sha256"]),
            ("count", stratum_count(len(entries), Decimal(s["ratio"]), s["minimum"]), s["count"]),
        ]
        for name, expected, found in checks:
            d = _compare(f"strata[{i}].{name}", expected, found)
            if d:
                return d
        employers.extend(entries)
    if len(set(employers)) != len(employers):
        return Difference("strata", "each employer in one stratum", "an employer in two")
    d = _compare(
        "employer_pool_sha256", pool_digest(sorted(employers)), record["employer_pool_sha256"]
    )
    if d:
        return d
    officers = record["officers"]
    if not _strictly_ascending(officers["entries"]):
        return Difference("officers.entries", "sorted, each once", officers["entries"][:5])
    for name, expected, found in (
        ("size", len(officers["entries"]), officers["size"]),
        ("sha256", pool_digest(officers["entries"]), officers["sha256"]),
    ):
        d = _compare(f"officers.{name}", expected, found)
        if d:
            return d
    declared = sorted(s["name"] for s in record["entropy_sources"])
    published: list[str] = []
    for n, run in enumerate(record["draws"]):
        where = f"draws[{n}]"
        values = run["entropy_values"]
        d = _compare(f"{where}.entropy_values", declared, sorted(values))
        if d:
            return d
        for name in declared:
            numbers = values[name]
            if not numbers or any(type(x) is not int or x < 0 for x in numbers):
                return Difference(
                    f"{where}.entropy_values.{name}", "non-negative integers", numbers
                )
        # Each run's secret was committed before its entropy was known: the first run's at
        # commit, a later run's when it was reseeded — a new one, since the old is public.
        committed = run["secret_sha256"]
        if n == 0:
            d = _compare(f"{where}.secret_sha256", record["secret_sha256"], committed)
            if d:
                return d
        elif committed in published:
            return Difference(f"{where}.secret_sha256", "a secret not revealed before", committed)
        published.append(committed)
        if type(run["secret"]) is not str or sha256_text(run["secret"]) != committed:
            return Difference(f"{where}.secret", f"SHA-256 = {committed}", run["secret"])
        key, results = recompute(record, run["entropy_values"], run["secret"])
        d = _compare(f"{where}.key", key, run["key"])
        if d:
            return d
        for name in ("picks", "officer_order", "teams", "reserve"):
            d = _compare(f"{where}.{name}", results[name], run[name])
            if d:
                return d
    return broken_link(commitment_sha256(record), record["draws"], v3)
