"""The publicly verifiable draw (摇号): RFC 3797 selection, strata, teams, records, verification.

A pure library: imports nothing of suiji but itself (the standalone verifier must stay so).
"""
