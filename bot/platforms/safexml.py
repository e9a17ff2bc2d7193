"""Parsing the small XML documents WeCom sends, refusing anything that could expand."""

from __future__ import annotations

from xml.etree import ElementTree

from bot.platforms.errors import Rejected

MAX_BODY = 256 * 1024


def flat_xml(data: bytes | str) -> dict[str, str]:
    """The children of the root as a flat dict of text; DOCTYPEs and entities are refused.

    A DOCTYPE is where entity bombs and external entities live; WeCom never sends one.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    lowered = raw.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise Rejected(400, "xml declarations are not accepted")
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError as exc:
        raise Rejected(400, f"malformed xml: {exc}") from exc
    return {child.tag: (child.text or "") for child in root}
