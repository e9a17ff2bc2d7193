"""Publicly verifiable selection after RFC 3797, and its SHA-256 variant.

Pure functions of their inputs. The key is built from the public entropy sources as in RFC 3797
§4; pick ``i`` hashes the index around the key and takes the hash, as a big-endian integer,
modulo the number of candidates not yet picked, choosing that position among them. Asking for
more picks never changes the earlier ones, so the order is also the substitution order.

Algorithms:

- ``rfc3797``: exactly the RFC: ``MD5(i₂ ‖ key ‖ i₂)`` with ``i₂`` the pick index (from 0) as two
  big-endian bytes. It reproduces the RFC's §6 worked example.
- ``rfc3797-sha256`` (suiji's default): ``SHA-256(i₄ ‖ label ‖ 0x00 ‖ key ‖ i₄)`` with ``i₄`` the
  index as four big-endian bytes and ``label`` the UTF-8 name of what is drawn (a stratum, or
  ``officers``), so that separate draws from one key are independent.

Positions among the unpicked are found with a Fenwick tree: O(k log n) for k picks from n.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

RFC3797 = "rfc3797"
RFC3797_SHA256 = "rfc3797-sha256"
ALGORITHMS = (RFC3797, RFC3797_SHA256)


def format_key(sources: Sequence[Sequence[int]]) -> str:
    """The RFC 3797 key: each source's numbers ascending, each followed by ".", then "/"."""
    parts = []
    for numbers in sources:
        if not numbers or any(type(n) is not int or n < 0 for n in numbers):
            raise ValueError("each source gives one or more non-negative integers")
        parts.append("".join(f"{n}." for n in sorted(numbers)) + "/")
    return "".join(parts)


def pick_hash(algorithm: str, key: str, index: int, label: str = "") -> int:
    """The hash of pick ``index`` (from 0) as a big-endian integer."""
    key_bytes = key.encode("utf-8")
    if algorithm == RFC3797:
        if index >= 1 << 16:
            raise ValueError("rfc3797 allows at most 65,536 picks (a 2-byte index)")
        i = index.to_bytes(2, "big")
        digest = hashlib.md5(i + key_bytes + i, usedforsecurity=False).digest()
    elif algorithm == RFC3797_SHA256:
        i = index.to_bytes(4, "big")
        digest = hashlib.sha256(i + label.encode("utf-8") + b"\x00" + key_bytes + i).digest()
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}")
    return int.from_bytes(digest, "big")


class Unpicked:
    """The candidates 0..n-1 not yet picked, as a Fenwick tree of 0/1 counts.

    ``take(r)`` removes and returns the r-th (from 0) remaining candidate in O(log n).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.remaining = size
        # With every candidate present, node i covers (i - lowbit(i), i]: its count is lowbit(i).
        self._tree = [i & -i for i in range(size + 1)]
        self._top = 1 << (size.bit_length() - 1) if size else 0

    def take(self, rank: int) -> int:
        if not 0 <= rank < self.remaining:
            raise IndexError(rank)
        tree, position, step, rest = self._tree, 0, self._top, rank + 1
        while step:
            nxt = position + step
            if nxt <= self.size and tree[nxt] < rest:
                position = nxt
                rest -= tree[nxt]
            step >>= 1
        chosen = position + 1  # 1-based node of the chosen candidate
        node = chosen
        while node <= self.size:
            tree[node] -= 1
            node += node & -node
        self.remaining -= 1
        return chosen - 1


def select(algorithm: str, key: str, size: int, count: int, label: str = "") -> Iterator[int]:
    """Yield ``count`` distinct positions (0-based) from a pool of ``size``, in pick order."""
    if not 0 <= count <= size:
        raise ValueError("the count must be between 0 and the size of the pool")
    unpicked = Unpicked(size)
    for index in range(count):
        yield unpicked.take(pick_hash(algorithm, key, index, label) % unpicked.remaining)
