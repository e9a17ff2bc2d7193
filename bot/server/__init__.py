"""The running bot: the aiohttp app and what keeps it going.

Lives here: the app factory and its HTTP edge (``app``), taking callbacks in fast (``intake``),
from a stored event to its effects (``dispatch``), and delivering queued messages (``outbox``).
Later: the scheduler's ticks for deadlines and the H5 pages.

May import ``workflows``, ``handlers``, the libraries, ``base`` and ``storage``; never the CLI or
the sandbox.
"""
