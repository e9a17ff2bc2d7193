"""The publicly verifiable draw (摇号): RFC 3797 selection, strata, teams, records, verification."""
