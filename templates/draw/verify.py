#!/usr/bin/env python3
"""Standalone verifier for suiji draw records (摇号记录独立验证程序).

Usage: python3 verify.py RECORD.json [--runs N] [--head SHA256] — standard library only,
written apart from suiji's code. Recomputes every digest, count, key, pick, team and the reserve
from the record's own inputs, and the chain of runs; prints OK, or the first thing that differs
(exit status 1). Given the run count and chain head a certificate states, also says whether this
is that record or one cut short ("ends after run k of n").

Formats /3 and /2. In /3, people's names and free-text reasons sit in a salted "private" part
beside the commitment and each run; the hashes cover only its "private_sha256". The bureau's
full record has them (each checked); the public record has none and still recomputes fully.
"""

import hashlib
import itertools
import json
import re
import sys
from fractions import Fraction

FORMATS = ("suiji-draw-record/2", "suiji-draw-record/3")
HEX64 = re.compile(r"[0-9a-f]{64}")
UNREADABLE = (OSError, ValueError, LookupError, TypeError, AttributeError, ArithmeticError,
              RecursionError)

class Mismatch(Exception):
    pass

def same(path, expected, found):
    # Exact types too: in Python False == 0 and 17.0 == 17, but such a record was edited.
    if type(expected) is not type(found) or expected != found:
        raise Mismatch(f"{path}: expected {expected!r}, found {found!r}")

def whole(path, value, least):
    if type(value) is not int or not least <= value < 2**31:
        raise Mismatch(f"{path}: expected a whole number >= {least}, found {value!r}")

def ascending(path, entries):
    ok = all(type(e) is str for e in entries)
    if not ok or any(a >= b for a, b in itertools.pairwise(entries)):
        raise Mismatch(f"{path}: expected text entries, sorted, each once")

def digest(entries):
    return hashlib.sha256("\n".join(entries).encode("utf-8")).hexdigest()

def count(size, ratio, minimum):
    wanted = -((-Fraction(ratio) * size) // 100)  # ceil(ratio% x size), exactly
    return min(size, max(int(wanted), minimum))

def make_key(sources):
    for numbers in sources:
        if not numbers or any(type(n) is not int or n < 0 for n in numbers):
            raise Mismatch(f"entropy values: expected non-negative integers, found {numbers!r}")
    return "".join("".join(f"{n}." for n in sorted(s)) + "/" for s in sources)

def pick_value(algorithm, key, i, label):
    k = key.encode("utf-8")
    if algorithm == "rfc3797":
        b = i.to_bytes(2, "big")
        return int.from_bytes(hashlib.md5(b + k + b).digest(), "big")
    if algorithm == "rfc3797-sha256":
        b = i.to_bytes(4, "big")
        data = b + label.encode("utf-8") + b"\x00" + k + b
        return int.from_bytes(hashlib.sha256(data).digest(), "big")
    raise Mismatch(f"algorithm: unknown {algorithm!r}")

def select(algorithm, key, size, n, label):
    """Positions (0-based) of n picks; a Fenwick tree finds the r-th unpicked candidate."""
    tree = [i & -i for i in range(size + 1)]
    top = 1 << (size.bit_length() - 1) if size else 0
    picks = []
    for i in range(n):
        rest = pick_value(algorithm, key, i, label) % (size - i) + 1
        pos, step = 0, top
        while step:
            if pos + step <= size and tree[pos + step] < rest:
                pos += step
                rest -= tree[pos]
            step >>= 1
        picks.append(pos)
        node = pos + 1
        while node <= size:
            tree[node] -= 1
            node += node & -node
    return picks

def check_pools(rec):
    campaign = rec["campaign"]
    if campaign["teams"] is not None:
        whole("campaign.teams", campaign["teams"], 1)
    whole("campaign.officers_per_team", campaign["officers_per_team"], 2)
    labels = [s["label"] for s in rec["strata"]]
    same("strata labels (distinct)", len(set(labels)), len(labels))
    employers = []
    for i, s in enumerate(rec["strata"]):
        e = s["entries"]
        ratio = s["ratio"]
        ok = type(ratio) is str and re.fullmatch(r"(100|[0-9]{1,2})(\.[0-9]{1,2})?", ratio)
        if not ok or Fraction(ratio) > 100:
            raise Mismatch(f"strata[{i}].ratio: expected a percentage like 30 or 2.5")
        whole(f"strata[{i}].minimum", s["minimum"], 0)
        ascending(f"strata[{i}].entries", e)
        same(f"strata[{i}].size", len(e), s["size"])
        same(f"strata[{i}].sha256", digest(e), s["sha256"])
        same(f"strata[{i}].count", count(len(e), ratio, s["minimum"]), s["count"])
        employers += e
    same("strata (each employer once)", len(set(employers)), len(employers))
    same("employer_pool_sha256", digest(sorted(employers)), rec["employer_pool_sha256"])
    o = rec["officers"]
    ascending("officers.entries", o["entries"])
    same("officers.size", len(o["entries"]), o["size"])
    same("officers.sha256", digest(o["entries"]), o["sha256"])

def sha256_json(value):
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

def recompute(rec, run, n, revealed):
    names = [s["name"] for s in rec["entropy_sources"]]
    values = run["entropy_values"]
    same("entropy_values (sources)", sorted(names), sorted(values))
    secret, committed = run["secret"], run["secret_sha256"]
    if n == 0:  # committed with the pools; a re-draw's at its reseed, and new: the old is public
        same(f"draws[{n}].secret_sha256", rec["secret_sha256"], committed)
    elif committed in revealed:
        raise Mismatch(f"draws[{n}].secret_sha256: expected a secret not revealed before")
    revealed.append(committed)
    same("secret (SHA-256)", committed, hashlib.sha256(secret.encode()).hexdigest())
    key = make_key([values[name] for name in names] + [[int(secret)]])
    algorithm = rec["algorithm"]
    picks, employers = {}, []
    for s in rec["strata"]:
        positions = select(algorithm, key, len(s["entries"]), s["count"], s["label"])
        picks[s["label"]] = [
            {"index": i + 1, "position": p + 1, "entry": s["entries"][p]}
            for i, p in enumerate(positions)
        ]
        employers += [s["entries"][p] for p in positions]
    officers = rec["officers"]["entries"]
    order = [officers[p] for p in select(algorithm, key, len(officers), len(officers), "officers")]
    campaign = rec["campaign"]
    total = len(employers) if campaign["teams"] is None else campaign["teams"]
    per_team = campaign["officers_per_team"]
    recusals = {(o, e) for o, e in rec["recusals"]}
    groups = [[] for _ in range(total)]
    for k, employer in enumerate(employers):  # team k mod T, or the next whose leader may go
        free = [t % total for t in range(k, k + total) if (rec["leaders"][t % total], employer)
                not in recusals] or [None]
        if free[0] is None:
            raise Mismatch(f"employer {employer}: every leader recused from it")
        groups[free[0]].append(employer)
    line, teams = list(order), []
    for t, group in enumerate(groups):
        members = []
        for officer in list(line):
            if len(members) == per_team:
                break
            if any((officer, e) in recusals for e in group):
                continue
            members.append(officer)
            line.remove(officer)
        short = max(0, per_team - len(members))
        team = {"number": t + 1, "leader": rec["leaders"][t], "employers": group}
        teams.append({**team, "officers": members, "short_by": short})
    return {"key": key, "picks": picks, "officer_order": order, "teams": teams, "reserve": line}

def compare(path, expected, found):
    if isinstance(expected, dict) and isinstance(found, dict):
        for k in sorted(set(expected) | set(found)):
            compare(f"{path}.{k}", expected.get(k), found.get(k))
    elif isinstance(expected, list) and isinstance(found, list):
        for i, (e, f) in enumerate(zip(expected, found, strict=False)):
            compare(f"{path}[{i}]", e, f)
        same(f"{path}.length", len(expected), len(found))
    else:
        same(path, expected, found)

def commitment(rec):
    """The digest published at commit: the record without its runs and private part."""
    return sha256_json({k: v for k, v in rec.items() if k not in ("draws", "private")})

def check_private(path, doc, v3):
    """A /3 document's private part, if given (returned), against the digest it carries."""
    digest, private = doc.get("private_sha256"), doc.get("private")
    if not v3 or type(digest) is not str or not HEX64.fullmatch(digest):
        if v3 or "private" in doc or "private_sha256" in doc:
            raise Mismatch(f"{path}private_sha256: a SHA-256 in /3 only, found {digest!r}")
        return False
    if "private" in doc and not (isinstance(private, dict) and type(private.get("salt")) is str):
        raise Mismatch(f"{path}private.salt: expected a salt")
    if "private" in doc:
        same(f"{path}private_sha256 (of the private part)", sha256_json(private), digest)
    return "private" in doc

def verify(rec, given=None):
    """The chain heads after 0, 1, … n runs: the commitment's digest, then each run's;
    ``given`` gets, for each private part, whether the record has it."""
    same("format (/2 or /3)", True, rec.get("format") in FORMATS)
    v3, given = rec["format"] == FORMATS[1], [] if given is None else given
    check_pools(rec)
    given.append(check_private("", rec, v3))
    revealed, heads = [], [commitment(rec)]
    for n, run in enumerate(rec["draws"]):
        expected = recompute(rec, run, n, revealed)
        for name in ("key", "picks", "officer_order", "teams", "reserve"):
            compare(f"draws[{n}].{name}", expected[name], run[name])
    for n, run in enumerate(rec["draws"]):  # each run's hash covers the one before and itself
        given.append(check_private(f"draws[{n}].", run, v3))
        same(f"draws[{n}].seq", n + 1, run["seq"])
        same(f"draws[{n}].previous_sha256", heads[-1], run["previous_sha256"])
        hashed = {k: v for k, v in run.items() if k not in ("sha256", "private")}
        same(f"draws[{n}].sha256", sha256_json(hashed), run["sha256"])
        heads.append(run["sha256"])
    return heads

def against(heads, runs, head):
    """The record held against the run count and chain head its certificate published."""
    found = len(heads) - 1
    if runs is not None and found < runs:
        raise Mismatch(f"记录在第 {found} 次摇号后就结束了，证书上是 {runs} 次 / "
                       f"this record ends after run {found} of {runs}")
    at = found if runs is None else runs
    if head is not None and heads[at] != head:
        raise Mismatch(f"第 {at} 次摇号后的链头与公布的不同 / chain head after run {at} is "
                       f"{heads[at]}, published {head}")
    later = f"；其后又有 {found - at} 次 / then {found - at} later run(s)" if found > at else ""
    return f"与公布的一致 / matches what was published: {at} run(s){later}"

def main(argv):
    names, options = argv[2::2], dict(zip(argv[2::2], argv[3::2], strict=False))
    runs, head = options.get("--runs"), options.get("--head")
    odd = len(argv) % 2 or len(set(names)) < len(names) or set(names) - {"--runs", "--head"}
    if len(argv) < 2 or odd or not (runs or "0").isdigit():
        print("用法 usage: python3 verify.py RECORD.json [--runs N] [--head SHA256]",
              file=sys.stderr)
        return 2
    try:
        with open(argv[1], "rb") as f:
            data = f.read()
        record = json.loads(data.decode("utf-8-sig"))  # a BOM if re-saved in Notepad
        given = []
        heads = verify(record, given)
        published = runs is not None or head is not None
        standing = published and against(heads, runs and int(runs), head and head.lower())
    except Mismatch as exc:
        print(f"不一致 MISMATCH: {exc}")
        return 1
    except UNREADABLE as exc:
        print(f"记录无法读取 UNREADABLE: {type(exc).__name__}: {str(exc)[:200]}")
        return 1
    n, digest, exported = len(heads) - 1, hashlib.sha256(data).hexdigest(), sha256_json(record)
    print(f"OK：记录可复算，{n} 次摇号结果一致 / record recomputes, {n} run(s) match")
    print(f"记录文件 SHA-256 / record file: {digest}  (应与证书上的相同)")
    if digest != exported:  # sha256sum hashes bytes: an editor's re-save changes them
        print(f"  文件不是导出时的原样 / not the bytes exported; 导出时为 / exported: {exported}")
    print(f"锁定文件 SHA-256 / commitment: {heads[0]}  (摇号前公布的值应与此相同)")
    print(f"摇号次数 / runs: {n}  链头 / chain head: {heads[-1]}  (应与证书上的相同)")
    if standing:
        print(standing)
    if record["format"] == FORMATS[1]:
        print(f"不公开部分（姓名、原因）/ private parts: {sum(given)} of {len(given)} given (each "
              f"matches its SHA-256); {len(given) - sum(given)} not published, covered by theirs")
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv))
