"""A small reader for OFX 1.x SGML: leaf tags are never closed (`<TRNAMT>-12.50`), aggregates are.

It turns the file into the same `start`/`end` events (with `xml.etree.ElementTree.Element`s) that
iterparse gives for OFX 2 XML, so one reader serves both. Written here rather than taken from
ofxtools, which is GPL. The rules: an element followed by text is a leaf and ends with that text
(a `</TAG>` right after it, which some banks write, is skipped); an element followed by another tag is
an aggregate and ends at its `</TAG>`, which also ends anything still open inside it; `<TAG></TAG>` is
an empty leaf, and so is an element its parent's `</TAG>` ends (what followed it is handed back to the
parent). The header (`OFXHEADER:100` … before `<OFX>`) is text outside any element and ignored. A file
that ends with elements still open raises `BrokenXml`, like XML that breaks off. The file is read in
chunks, never whole.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from typing import TextIO

from adapters.statements.common import BrokenXml

_TAG = re.compile(r"<(/?)([A-Za-z0-9_.]+)[^<>]*>")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'", "&nbsp;": " ", "&amp;": "&"}
_ENTITY = re.compile("|".join(map(re.escape, _ENTITIES)))
_HEADER = re.compile(r"^\s*(?P<key>[A-Z]+)\s*:\s*(?P<value>\S*)\s*$")
_CHARSETS = {"1252": "cp1252", "ISO-8859-1": "latin_1", "8859-1": "latin_1", "UTF-8": "utf-8"}


def header_encoding(head: bytes) -> str | None:
    """The encoding an OFX 1.x header declares (`ENCODING:UTF-8`, `CHARSET:1252`), or None."""
    fields: dict[str, str] = {}
    for line in head.split(b"<", 1)[0].decode("ascii", errors="replace").splitlines():
        match = _HEADER.match(line)
        if match:
            fields[match.group("key")] = match.group("value").upper()
    if fields.get("ENCODING") == "UTF-8":
        return "utf-8"
    return _CHARSETS.get(fields.get("CHARSET", ""))


def tokens(chunks: Iterable[str]) -> Iterator[tuple[str, str]]:
    """`("open", NAME)`, `("close", NAME)` and `("text", text)` tokens; names upper-cased."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk
        position = 0
        for match in _TAG.finditer(buffer):
            if match.start() > position:
                yield "text", buffer[position : match.start()]
            yield ("close" if match.group(1) else "open"), match.group(2).upper()
            position = match.end()
        buffer = buffer[position:]  # text, maybe a tag cut by the chunk boundary: wait for more
    if buffer:
        yield "text", buffer


def events(handle: TextIO, chunk_size: int = 1 << 16) -> Iterator[tuple[str, ET.Element]]:
    """iterparse-style `start`/`end` events for an OFX 1.x SGML file (see the module docstring)."""
    stack: list[ET.Element] = []
    pending: ET.Element | None = None  # opened, not yet known to be a leaf or an aggregate
    ended_leaf: str | None = None  # a leaf its text just ended: a `</NAME>` for it is skipped
    for kind, value in tokens(iter(lambda: handle.read(chunk_size), "")):
        if kind == "open":
            element = ET.Element(value)
            if stack:
                stack[-1].append(element)
            stack.append(element)
            pending, ended_leaf = element, None
            yield "start", element
        elif kind == "text":
            if pending is not None and value.strip():
                leaf = stack.pop()
                leaf.text = _ENTITY.sub(lambda match: _ENTITIES[match.group(0)], value.strip())
                pending, ended_leaf = None, leaf.tag
                yield "end", leaf
        else:
            yield from _close(stack, value, ended_leaf)
            pending = ended_leaf = None
    if stack:  # cut short: what ended stands, what is open (a half transaction) is not guessed at
        raise BrokenXml(f"the file ends with <{stack[0].tag}> still open: it may be cut short")


def _close(stack: list[ET.Element], name: str, ended_leaf: str | None) -> Iterator[tuple[str, ET.Element]]:
    """End the elements a `</NAME>` closes (an empty `<NAME></NAME>` too); a `</NAME>` right after
    the leaf's text, or one with nothing of that name open, is ignored."""
    if name == ended_leaf:
        return
    if not any(element.tag == name for element in stack):
        return
    while stack:
        element = stack.pop()
        if element.tag != name and len(element):
            _hand_back(element, stack[-1])
        yield "end", element
        if element.tag == name:
            return


def _hand_back(empty: ET.Element, parent: ET.Element) -> None:
    """An element its parent's `</TAG>` ends was never closed itself: it was an empty leaf
    (`<BRANCHID>` with no value), and the elements after it are its parent's, not its own."""
    position = list(parent).index(empty)
    for offset, child in enumerate(list(empty), start=1):
        empty.remove(child)
        parent.insert(position + offset, child)
