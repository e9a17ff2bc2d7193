"""What every room stands on: settings (``config``: one TOML file plus environment overrides)
and the words people read (``texts``: every message rendered from ``templates/``).

May import only ``storage`` (its URL rules) and ``templates``; every other room may import it.
"""
