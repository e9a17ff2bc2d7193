"""The running bot: the aiohttp app and what keeps it going.

Lives here: the app factory and its HTTP edge (``app``), the listening edge of ``suiji serve``
(``edge``: header deadlines, a cap on connections, accepting, a log without repeats), taking
callbacks in fast (``intake``),
from a stored event to its effects (``dispatch``), delivering queued messages (``outbox``), and
the read-only pages of drawn campaigns (``public``: certificate, record, verifier), the public
site under /public/, built and kept fresh on the scheduler's tick (``public_site``), and the
sandbox page of ``suiji demo`` (``sandbox``: this same app wired to the fake platforms).
Later: the scheduler's ticks for deadlines and the H5 pages.

May import ``workflows``, ``handlers``, the libraries, ``base`` and ``storage``; never the CLI.
"""
