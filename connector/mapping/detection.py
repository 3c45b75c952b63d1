"""A mapping's `[detect] headers` against a file's header row, and against another mapping's.

Header names are compared normalised (`normalise`). A file two export mappings recognise is refused by
`--format auto`; `detection_overlaps` finds the mappings whose headers make that certain.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from connector.mapping.files import MappingProblem, MappingSet, line_of


def normalise(name: str) -> str:
    """A header name for matching: NFKC (full-width forms), spaces collapsed, case folded, and without
    a BOM or the `*` exports put on required columns (`*Date`)."""
    text = name if name.isascii() else unicodedata.normalize("NFKC", name.replace("\ufeff", ""))
    return " ".join(text.split()).strip("*").strip().casefold()


def detection_overlaps(folder: Path, mappings: MappingSet) -> list[MappingProblem]:
    """A warning for each export mapping of `folder` whose `[detect] headers` are all among another's:
    every file the other recognises, this one recognises too, so `--format auto` (the inbox) refuses
    them (a workbook holding those headers whatever either's `delimiter`)."""
    exports = sorted({**mappings.documents, **mappings.vouchers}.items())
    headers = {stem: frozenset(map(normalise, mapping.detect.headers)) for stem, mapping in exports}
    found = []
    for stem, mapping in exports:
        for other, theirs in exports:
            if other == stem or not headers[stem] <= headers[other]:
                continue
            if headers[stem] == headers[other] and other > stem:
                continue  # the same headers: said once, of the second file
            text = mappings.texts[f"{stem}.toml"]
            message = (
                f"every header is among those of {other}.toml ({theirs.source}): a file that mapping "
                f"recognises is recognised by this one ({mapping.source}) too, and an import without "
                "--format (the inbox) refuses it; add to this one a header only its exports have, "
                "or remove one of the two"
            )
            found.append(
                MappingProblem(
                    folder / f"{stem}.toml", line_of(text, "detect.headers"), "detect.headers", message
                )
            )
    return found
