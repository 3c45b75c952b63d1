"""A file's row (or line) that cannot be taken as it is: kept in quarantine with its raw text, the file
and row it came from and the reason, once per row however often its file is imported again, and
whatever name or encoding the export comes back under (the same text of the same source, and the same
document where it names one, under its id or one it was imported under before: one record, where it
was last seen)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from connector.documents import Origin
from connector.security.cipher import FieldCipher
from connector.sync.models import SyncRun
from connector.sync.runs import quarantine

NOT_REPLAYED_KEY = "for_a_person"  # in a quarantined input's raw record: no retry replays it


def quarantine_input(
    session: Session,
    cipher: FieldCipher,
    run: SyncRun | None,
    source: str,
    origin: Origin,
    reason: str,
    file_id: int | None,
    external_id: str | None = None,
    replayed: bool = True,
    found_by_text: bool = True,
    known_as: Sequence[str] = (),
) -> None:
    """Quarantine what a file's row or line gave, as "file:row", with its raw text and the imported
    file's id (a retry imports that file again; not `replayed`: a person's, which no retry decides).
    Not `found_by_text`: a row whose text does not say where it belongs (a bank statement's line names
    no account: the same text on two accounts is two lines), found again only in its own file.
    `known_as`: the ids the document was quarantined under before (`Document.known_as`: a QuickBooks
    transaction's unkeyed id), whose records are its record."""
    ref = f"{origin.file}:{origin.row}" if origin.row is not None else origin.file
    raw: dict[str, Any] = {"file": origin.file, "row": origin.row, "raw": origin.raw}
    if not replayed:
        raw[NOT_REPLAYED_KEY] = True
    if external_id is not None:
        raw["external_id"] = external_id
    if known_as:
        raw["known_as"] = list(known_as)
    raw["file_id"] = file_id
    ids = {external_id, *known_as}

    def same_row(held: Any) -> bool:
        """The same file's row, or the same text again (a re-export), and the same document where both
        name one. Exports keep their names from one month to the next: another file's row 5 with other
        text is another record, kept beside it; so is another document of one row (a batch's returns),
        and a problem of no row (a statement) with other text."""
        if not isinstance(held, dict):
            return False
        held_id = held.get("external_id")
        if held_id is not None and external_id is not None and held_id not in ids:
            return False
        if origin.row is None:
            return bool(held.get("raw") == origin.raw)
        return held.get("file_id") == file_id or held.get("raw") == origin.raw

    def same_content(held: Any) -> bool:
        """The same text and document, brought by another file (the export saved again under another
        name or in another encoding): the same row, unless this very file brought it (another of its rows
        of the same text, kept apart)."""
        if not isinstance(held, dict) or held.get("raw") != origin.raw:
            return False
        return held.get("external_id") in ids and (file_id is None or held.get("file_id") != file_id)

    # A person's record (not replayed: what a file lacks) or one of no text is not a row to find again.
    by_text = replayed and found_by_text and origin.raw
    key = content_key(cipher, source, origin.raw, external_id) if by_text else None
    known_keys = [content_key(cipher, source, origin.raw, former) for former in known_as] if by_text else []
    quarantine(session, cipher, run, source, ref, raw, reason, same_row, key, same_content, known_keys)


def content_key(cipher: FieldCipher, source: str, raw: str, external_id: str | None) -> str:
    """A keyed hash of a row's text and document id under its source: the row's own text never stored
    in clear, even hashed."""
    return cipher.blind_index("quarantined_row", f"{source}\x00{external_id or ''}\x00{raw}")
