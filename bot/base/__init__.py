"""What every room stands on: settings (``config``: one TOML file plus environment overrides),
the words people read (``texts``: every message rendered from ``templates/``) and how a moment
reads to them (``times``: the configured zone, to the minute).

May import only ``storage`` (its URL rules) and ``templates``; every other room may import it.
"""
