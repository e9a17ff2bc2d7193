"""The unified social credit code (统一社会信用代码, GB 32100-2015).

Owns the check-character arithmetic only: validating a code and computing the check character
for the first 17 characters. Knows nothing about files, storage or messages.
"""

from __future__ import annotations

import enum

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters GB 32100 allows; I, O, Z, S and V are excluded."""

_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# Weight of position i (0-based) is 3**i mod 31, as tabulated in the standard.
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
USCC_LENGTH = 18


class UsccProblem(enum.Enum):
    """Why a string is not a valid USCC; each has a Chinese explanation in templates."""

    LENGTH = "length"
    CHARACTER = "character"
    CHECK = "check"


def check_character(first17: str) -> str:
    """Return the check character for the first 17 characters of a USCC."""
    if len(first17) != USCC_LENGTH - 1:
        raise ValueError("expected 17 characters")
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> UsccProblem | None:
    """Return what is wrong with ``code`` as a USCC, or None when it is valid."""
    if len(code) != USCC_LENGTH:
        return UsccProblem.LENGTH
    if any(ch not in _VALUE for ch in code):
        return UsccProblem.CHARACTER
    if check_character(code[:17]) != code[17]:
        return UsccProblem.CHECK
    return None


def normalize_uscc(raw: str) -> str:
    """Strip blanks and upper-case, the way staff type codes (full-width letters included)."""
    cleaned = "".join(raw.split())
    # Full-width ASCII (Ａ, ０…) is common when codes are typed with a Chinese IME.
    cleaned = "".join(chr(ord(c) - 0xFEE0) if "！" <= c <= "～" else c for c in cleaned)
    return cleaned.upper()
