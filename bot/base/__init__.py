"""What every room stands on: settings (``config``: one TOML file plus environment overrides),
the words people read (``texts``: every message rendered from ``templates/``) and how a moment
reads to them (``times``: the configured zone, to the minute), and which days are working days
(``calendar``: holidays and 调休 from the site's overrides or chinesecalendar, else estimated).

May import only ``storage`` (its URL rules) and ``templates``; every other room may import it.
"""
