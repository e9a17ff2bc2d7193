"""The default risk strata (S5): who falls in which stratum, and the default ratios.

A documented rule, applied in this order; an employer belongs to the first stratum it matches:

1. ``high_risk`` — at least one complaint in the last 12 months, or a serious violation;
2. ``grade_c`` / ``grade_b`` / ``grade_a`` — by compliance credit grade;
3. ``ungraded`` — no grade yet.

Default ratios 30% / 15% / 5% / 1% / 5%: more checks where complaints, violations and a low grade
say the risk is, fewer for grade A, and ungraded employers kept in view. A campaign may set its
own ratio and a minimum for each stratum.
"""

from __future__ import annotations

from decimal import Decimal

HIGH_RISK, GRADE_C, GRADE_B, GRADE_A, UNGRADED = (
    "high_risk",
    "grade_c",
    "grade_b",
    "grade_a",
    "ungraded",
)
STRATUM_ORDER = (HIGH_RISK, GRADE_C, GRADE_B, GRADE_A, UNGRADED)
DEFAULT_RATIOS = {
    HIGH_RISK: Decimal(30),
    GRADE_C: Decimal(15),
    GRADE_B: Decimal(5),
    GRADE_A: Decimal(1),
    UNGRADED: Decimal(5),
}


def stratum_of(complaints_12m: int, serious_violation: bool, credit_grade: str | None) -> str:
    if complaints_12m >= 1 or serious_violation:
        return HIGH_RISK
    if credit_grade == "C":
        return GRADE_C
    if credit_grade == "B":
        return GRADE_B
    if credit_grade == "A":
        return GRADE_A
    return UNGRADED
