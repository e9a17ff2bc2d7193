"""The registries as the staff keep them: sheets (CSV / Excel) in and out, validated row by row,
and the unified social credit code (``uscc``) they are keyed by; and the site's holiday notices
(``holidays``: a year's holidays and 调休 working days as TOML or a sheet).

A library: may import ``base`` and ``storage``, never a workflow, the server or the CLI.
"""
