"""RFC 3797 selection: the RFC's own worked example, the Fenwick tree, and the pick properties."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.draw.rfc3797 import (
    ALGORITHMS,
    RFC3797,
    RFC3797_SHA256,
    Unpicked,
    format_key,
    pick_hash,
    select,
)

# RFC 3797 §6: the seeds as the RFC prints them, and the key and picks it gives for 25 names.
RFC_SOURCES = [[9319], [2, 5, 12, 8, 10], [9, 18, 26, 34, 41, 45]]
RFC_KEY = "9319./2.5.8.10.12./9.18.26.34.41.45./"
RFC_POSITIONS = [17, 7, 2, 16, 25, 23, 8, 24, 19, 13, 22, 5, 18, 9, 1, 4]

keys = st.text(max_size=40)
algorithms = st.sampled_from(ALGORITHMS)


# --- the RFC's worked example ---------------------------------------------------------------


def test_rfc_example_key_sorts_each_source_and_closes_it_with_a_slash() -> None:
    assert format_key(RFC_SOURCES) == RFC_KEY


def test_rfc_example_picks_the_positions_printed_in_section_6() -> None:
    picks = [p + 1 for p in select(RFC3797, RFC_KEY, 25, 16)]
    assert picks == RFC_POSITIONS


def test_rfc_example_first_hash_is_md5_of_two_byte_index_around_the_key() -> None:
    expected = hashlib.md5(b"\x00\x00" + RFC_KEY.encode() + b"\x00\x00").digest()
    assert pick_hash(RFC3797, RFC_KEY, 0) == int.from_bytes(expected, "big")
    # The RFC's first pick: that value modulo 25, plus one, is position 17.
    assert pick_hash(RFC3797, RFC_KEY, 0) % 25 + 1 == 17


# --- format_key ------------------------------------------------------------------------------


def test_format_key_sorts_numbers_numerically_not_as_text() -> None:
    assert format_key([[100, 9, 20]]) == "9.20.100./"


def test_format_key_keeps_sources_in_their_given_order() -> None:
    assert format_key([[5], [1]]) == "5./1./"
    assert format_key([[1], [5]]) == "1./5./"


def test_format_key_keeps_repeated_numbers() -> None:
    assert format_key([[3, 1, 3]]) == "1.3.3./"


@pytest.mark.parametrize("sources", [[[], [0]], [[True, 2]], [[1.5]]])
def test_format_key_refuses_a_source_without_integers(sources: list[list[Any]]) -> None:
    # Both verifiers refuse such values in a record; the key builder must not invent a key.
    with pytest.raises(ValueError):
        format_key(sources)


@pytest.mark.parametrize("numbers", [[-1], [3, -5, 7], [0, -0, -2]])
def test_format_key_rejects_negative_numbers(numbers: list[int]) -> None:
    with pytest.raises(ValueError):
        format_key([[1, 2], numbers])


# --- pick_hash -------------------------------------------------------------------------------


@given(key=keys, index=st.integers(0, 2**32 - 1), label=st.text(max_size=20))
@settings(max_examples=50, deadline=None)
def test_sha256_hash_is_index4_label_nul_key_index4(key: str, index: int, label: str) -> None:
    i = index.to_bytes(4, "big")
    data = i + label.encode("utf-8") + b"\x00" + key.encode("utf-8") + i
    expected = int.from_bytes(hashlib.sha256(data).digest(), "big")
    assert pick_hash(RFC3797_SHA256, key, index, label) == expected


@given(key=keys, index=st.integers(0, 65535))
@settings(max_examples=50, deadline=None)
def test_md5_hash_is_index2_key_index2(key: str, index: int) -> None:
    i = index.to_bytes(2, "big")
    expected = int.from_bytes(hashlib.md5(i + key.encode("utf-8") + i).digest(), "big")
    assert pick_hash(RFC3797, key, index) == expected


def test_rfc3797_allows_exactly_65536_picks() -> None:
    assert pick_hash(RFC3797, RFC_KEY, 65535) >= 0
    with pytest.raises(ValueError):
        pick_hash(RFC3797, RFC_KEY, 65536)


def test_sha256_variant_is_not_limited_to_a_two_byte_index() -> None:
    assert pick_hash(RFC3797_SHA256, RFC_KEY, 65536) != pick_hash(RFC3797_SHA256, RFC_KEY, 0)


def test_select_refuses_a_65537th_rfc3797_pick() -> None:
    picks = select(RFC3797, RFC_KEY, 65537, 65537)
    with pytest.raises(ValueError):
        list(picks)


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError):
        pick_hash("rfc3797-sha1", RFC_KEY, 0)
    with pytest.raises(ValueError):
        list(select("md5", RFC_KEY, 5, 1))


def test_label_changes_sha256_picks() -> None:
    a = list(select(RFC3797_SHA256, RFC_KEY, 1000, 10, "high_risk"))
    b = list(select(RFC3797_SHA256, RFC_KEY, 1000, 10, "grade_c"))
    c = list(select(RFC3797_SHA256, RFC_KEY, 1000, 10, ""))
    assert a != b
    assert a != c
    assert b != c


def test_label_does_not_change_rfc3797_picks() -> None:
    plain = list(select(RFC3797, RFC_KEY, 25, 16))
    assert list(select(RFC3797, RFC_KEY, 25, 16, "high_risk")) == plain
    assert list(select(RFC3797, RFC_KEY, 25, 16, "officers")) == plain
    assert pick_hash(RFC3797, RFC_KEY, 3, "x") == pick_hash(RFC3797, RFC_KEY, 3, "y")


# --- the Fenwick tree ------------------------------------------------------------------------


@given(
    size=st.integers(0, 300),
    raw_ranks=st.lists(st.integers(0, 10**9), max_size=320),
)
@settings(max_examples=150, deadline=None)
def test_unpicked_agrees_with_list_removal(size: int, raw_ranks: list[int]) -> None:
    tree, naive = Unpicked(size), list(range(size))
    for raw in raw_ranks:
        if not naive:
            break
        rank = raw % len(naive)
        assert tree.take(rank) == naive.pop(rank)
        assert tree.remaining == len(naive)
    assert tree.remaining == len(naive)


@given(size=st.integers(0, 300))
@settings(max_examples=30, deadline=None)
def test_unpicked_taking_rank_zero_walks_the_pool_in_order(size: int) -> None:
    tree = Unpicked(size)
    assert [tree.take(0) for _ in range(size)] == list(range(size))


@given(size=st.integers(1, 300))
@settings(max_examples=30, deadline=None)
def test_unpicked_taking_last_rank_walks_the_pool_backwards(size: int) -> None:
    tree = Unpicked(size)
    assert [tree.take(tree.remaining - 1) for _ in range(size)] == list(reversed(range(size)))


@pytest.mark.parametrize("size", [0, 1, 7, 8])
def test_unpicked_refuses_ranks_out_of_range(size: int) -> None:
    tree = Unpicked(size)
    with pytest.raises(IndexError):
        tree.take(size)
    with pytest.raises(IndexError):
        tree.take(-1)
    for _ in range(size):
        tree.take(0)
    with pytest.raises(IndexError):
        tree.take(0)


# --- select ----------------------------------------------------------------------------------


@given(
    algorithm=algorithms,
    key=keys,
    label=st.text(max_size=10),
    size=st.integers(0, 200),
    data=st.data(),
)
@settings(max_examples=100, deadline=None)
def test_select_gives_distinct_positions_in_range(
    algorithm: str, key: str, label: str, size: int, data: st.DataObject
) -> None:
    count = data.draw(st.integers(0, size))
    picks = list(select(algorithm, key, size, count, label))
    assert len(picks) == count
    assert len(set(picks)) == count
    assert all(0 <= p < size for p in picks)


@given(algorithm=algorithms, key=keys, label=st.text(max_size=10), data=st.data())
@settings(max_examples=100, deadline=None)
def test_more_picks_never_change_earlier_ones(
    algorithm: str, key: str, label: str, data: st.DataObject
) -> None:
    size = data.draw(st.integers(1, 200), label="size")
    fewer = data.draw(st.integers(0, size), label="fewer")
    more = data.draw(st.integers(fewer, size), label="more")
    short = list(select(algorithm, key, size, fewer, label))
    long = list(select(algorithm, key, size, more, label))
    assert long[:fewer] == short


@given(algorithm=algorithms, key=keys, size=st.integers(0, 100))
@settings(max_examples=40, deadline=None)
def test_picking_the_whole_pool_is_a_permutation(algorithm: str, key: str, size: int) -> None:
    assert sorted(select(algorithm, key, size, size)) == list(range(size))


@given(algorithm=algorithms, key=keys, size=st.integers(1, 100))
@settings(max_examples=30, deadline=None)
def test_select_is_a_function_of_its_inputs(algorithm: str, key: str, size: int) -> None:
    assert list(select(algorithm, key, size, size, "x")) == list(
        select(algorithm, key, size, size, "x")
    )


@given(algorithm=algorithms, size=st.integers(0, 50), extra=st.integers(1, 5))
@settings(max_examples=20, deadline=None)
def test_asking_for_more_than_the_pool_is_refused(algorithm: str, size: int, extra: int) -> None:
    with pytest.raises(ValueError):
        list(select(algorithm, RFC_KEY, size, size + extra))


def test_select_matches_a_naive_reference_of_the_rfc_procedure() -> None:
    # The RFC's procedure written out plainly: hash, modulo the number left, remove from a list.
    for algorithm in ALGORITHMS:
        for size in (1, 2, 25, 97, 256):
            remaining = list(range(size))
            expected = []
            for i in range(size):
                value = pick_hash(algorithm, RFC_KEY, i, "officers")
                expected.append(remaining.pop(value % len(remaining)))
            assert list(select(algorithm, RFC_KEY, size, size, "officers")) == expected
