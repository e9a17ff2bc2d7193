"""Parsing the small XML documents WeCom sends, refusing anything that could expand."""

from __future__ import annotations

from xml.etree import ElementTree

from bot.platforms.errors import Rejected

MAX_BODY = 256 * 1024


def flat_xml(data: bytes | str) -> dict[str, str]:
    """The children of the root as a flat dict of text; DOCTYPEs and entities are refused."""
    return children_text(safe_root(data))


def children_text(root: ElementTree.Element) -> dict[str, str]:
    """Each child of ``root`` by tag, as its text (nested elements are left to the caller)."""
    return {child.tag: (child.text or "") for child in root}


def safe_root(data: bytes | str) -> ElementTree.Element:
    """The parsed document's root; DOCTYPEs and entities are refused.

    A DOCTYPE is where entity bombs and external entities live; WeCom never sends one.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    # Read as UTF-8 first and look for declarations in the text: a DOCTYPE written in UTF-16
    # hides from a byte search but not from the parser.
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(400, "xml must be utf-8") from exc
    lowered = decoded.lower()
    if "<!doctype" in lowered or "<!entity" in lowered:
        raise Rejected(400, "xml declarations are not accepted")
    if lowered.lstrip().startswith("<?xml") and "encoding" in lowered.split("?>", 1)[0]:
        declared = lowered.split("?>", 1)[0]
        if "utf-8" not in declared and "utf8" not in declared:
            raise Rejected(400, "xml must be utf-8")
    try:
        return ElementTree.fromstring(raw)
    except ElementTree.ParseError as exc:
        raise Rejected(400, f"malformed xml: {exc}") from exc
