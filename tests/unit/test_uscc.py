"""The USCC check character of GB 32100-2015, checked against the standard's own tables."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.registry.uscc import ALPHABET, UsccProblem, check_character, normalize_uscc, uscc_problem

# GB 32100-2015 §4.3 / table 3: the weights of positions 1–17, written out as printed in the
# standard rather than derived, so that the module's formula is checked against the source.
STANDARD_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

VALID_CODES = (
    "91350100M000100Y43",  # the worked example in GB 32100-2015 Appendix A
    "91110000100010310K",
    "914403001922038216",  # widely published codes of large enterprises
    "91440300708461136T",
    "91330100799655058B",
)

prefixes = st.text(alphabet=ALPHABET, min_size=17, max_size=17)


def reference_check_character(first17: str) -> str:
    total = sum(ALPHABET.index(ch) * w for ch, w in zip(first17, STANDARD_WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def test_alphabet_is_the_31_characters_of_the_standard() -> None:
    assert len(ALPHABET) == 31
    assert len(set(ALPHABET)) == 31
    assert not set("IOZSV") & set(ALPHABET)
    assert set(ALPHABET) == set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") - set("IOZSV")


@pytest.mark.parametrize("code", VALID_CODES)
def test_published_codes_are_valid(code: str) -> None:
    assert uscc_problem(code) is None
    assert check_character(code[:17]) == code[17]


def test_standard_example_check_character_is_3() -> None:
    assert check_character("91350100M000100Y4") == "3"


@pytest.mark.parametrize(
    "code",
    ["", "91350100M000100Y4", "91350100M000100Y433", "9135 0100M000100Y43", "91350100M00010Y43"],
)
def test_wrong_length_is_reported_as_length(code: str) -> None:
    assert uscc_problem(code) is UsccProblem.LENGTH


@pytest.mark.parametrize("forbidden", list("IOZSV"))
def test_forbidden_letters_are_reported_as_character(forbidden: str) -> None:
    code = "91350100" + forbidden + "000100Y43"
    assert len(code) == 18
    assert uscc_problem(code) is UsccProblem.CHARACTER


@pytest.mark.parametrize("bad", ["m", "-", "Ｍ", "中", " "])
def test_lowercase_punctuation_and_wide_characters_are_reported_as_character(bad: str) -> None:
    code = "91350100" + bad + "000100Y43"
    assert uscc_problem(code) is UsccProblem.CHARACTER


def test_wrong_check_character_is_reported_as_check() -> None:
    assert uscc_problem("91350100M000100Y44") is UsccProblem.CHECK
    assert uscc_problem("91350100M000100Y4A") is UsccProblem.CHECK


def test_check_character_refuses_a_prefix_that_is_not_17_long() -> None:
    with pytest.raises(ValueError):
        check_character("91350100M000100Y")
    with pytest.raises(ValueError):
        check_character("91350100M000100Y43")


@settings(max_examples=200, deadline=None)
@given(prefixes)
def test_prefix_with_its_check_character_is_valid(prefix: str) -> None:
    code = prefix + check_character(prefix)
    assert uscc_problem(code) is None


@settings(max_examples=200, deadline=None)
@given(prefixes)
def test_check_character_matches_the_standards_weight_table(prefix: str) -> None:
    assert check_character(prefix) == reference_check_character(prefix)


@settings(max_examples=200, deadline=None)
@given(prefixes, st.integers(0, 17), st.sampled_from(ALPHABET))
def test_single_character_substitution_is_always_detected(
    prefix: str, position: int, replacement: str
) -> None:
    code = prefix + check_character(prefix)
    if code[position] == replacement:
        replacement = ALPHABET[(ALPHABET.index(replacement) + 1) % len(ALPHABET)]
    altered = code[:position] + replacement + code[position + 1 :]
    assert altered != code
    assert uscc_problem(altered) is UsccProblem.CHECK


def test_every_single_substitution_of_the_standard_example_is_detected() -> None:
    # Exhaustive for one code: 18 positions × 30 other characters.
    code = VALID_CODES[0]
    for position in range(18):
        for replacement in ALPHABET:
            if replacement == code[position]:
                continue
            altered = code[:position] + replacement + code[position + 1 :]
            assert uscc_problem(altered) is UsccProblem.CHECK, altered


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("91350100M000100Y43", "91350100M000100Y43"),
        (" 9135 0100m0001 00y43 ", "91350100M000100Y43"),
        ("\t91350100M000100Y43\n", "91350100M000100Y43"),
        ("９１３５０１００ｍ０００１００ｙ４３", "91350100M000100Y43"),
        ("９１３５０１００Ｍ０００１００Ｙ４３", "91350100M000100Y43"),
        ("9135\u30000100M000100Y43", "91350100M000100Y43"),  # ideographic space
        ("9135\u00a00100M000100Y43", "91350100M000100Y43"),  # no-break space
    ],
)
def test_normalize_uscc_strips_blanks_upper_cases_and_narrows_full_width(
    raw: str, expected: str
) -> None:
    assert normalize_uscc(raw) == expected
    assert uscc_problem(normalize_uscc(raw)) is None


@settings(max_examples=200, deadline=None)
@given(prefixes)
def test_normalize_uscc_leaves_a_canonical_code_unchanged(prefix: str) -> None:
    code = prefix + check_character(prefix)
    assert normalize_uscc(code) == code
    assert normalize_uscc(code.lower()) == code
