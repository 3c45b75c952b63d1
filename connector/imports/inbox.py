"""The inbox folder: files dropped into it are imported, then moved out of the way.

    inbox/            files waiting (anything not hidden and not a partial download)
    inbox/archive/    each processed file, named by its content hash: <sha256><suffix>
    inbox/failed/     each file that could not be read, with <name>.reason.txt beside it

A file still being written is left for the next pass: it is taken once it has not changed for
`settle_seconds`, and left where it is if it changed while it was imported (the next pass imports it
again: what it held before is unchanged, what was added is new). A writer that pauses longer than that
cannot be told from one that is done: writers should write elsewhere (or under a hidden or `.part`
name) and move the finished file in, which is atomic on one file system. A file whose bytes were imported
before is skipped by its hash and archived (the archive already holds the same bytes); a document seen
in another file is skipped by its id. A file that fails for a reason outside it (the database
unreachable) stays in the inbox for the next pass.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from connector import retry
from connector.bootstrap import Container
from connector.db import database_error_text, unit_of_work
from connector.documents import DocumentParser
from connector.errors import ConnectorError
from connector.imports.models import ImportedFile
from connector.imports.pipeline import FileResult, file_hash, file_name, import_file
from connector.sync.leases import lease

log = logging.getLogger(__name__)

ARCHIVE = "archive"
FAILED = "failed"
HINT = "import it with `connector import FILE --format NAME`"  # for a file no parser recognises
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download", ".filepart")


@dataclass(frozen=True)
class InboxFile:
    """What a pass did with one file: its import's result and where the file went (None: it stayed)."""

    result: FileResult
    moved_to: Path | None


def waiting_files(inbox: Path, *, settle_seconds: float = 2.0, now: float | None = None) -> list[Path]:
    """The files ready to import, oldest first: regular, not hidden, not a partial download, and
    unchanged for `settle_seconds`."""
    if not inbox.is_dir():
        return []
    now = time.time() if now is None else now
    ready = []
    for entry in os.scandir(inbox):
        name = entry.name
        if name.startswith((".", "~")) or name.lower().endswith(PARTIAL_SUFFIXES):
            continue
        if not entry.is_file(follow_symlinks=False):
            continue
        modified = entry.stat().st_mtime
        if now - modified >= settle_seconds:
            ready.append((modified, name, Path(entry.path)))
    return [path for _, _, path in sorted(ready)]


def still_settling(inbox: Path, settle_seconds: float) -> int:
    """How many files are in the inbox that are not taken yet: written to in the last `settle_seconds`."""
    now = time.time()
    every = waiting_files(inbox, settle_seconds=0, now=now)
    return len(every) - len(waiting_files(inbox, settle_seconds=settle_seconds, now=now))


def process_inbox(
    container: Container,
    parsers: Sequence[DocumentParser],
    inbox: Path,
    *,
    settle_seconds: float = 2.0,
    progress: Callable[[str], AbstractContextManager[Callable[[int], None]]] | None = None,
) -> list[InboxFile]:
    """One pass over the inbox: import every waiting file, archive it or set it aside as failed.

    `progress(name)`, while a file is imported, gives a callback told how many rows each batch read.
    Another pass over the same folder running (another process, a replica) is a `LeaseHeldError`."""
    done = []
    with lease(container.sessions, f"inbox {inbox.resolve()}", wait=False):  # one pass at a time
        for path in waiting_files(inbox, settle_seconds=settle_seconds):
            if retry.STOPPING.is_set():  # the daemon is stopping: the files still waiting are the next pass's
                break
            with progress(file_name(path)) if progress else nullcontext(None) as advance:
                done.append(_process(container, parsers, inbox, path, advance))
    return done


def _process(
    container: Container,
    parsers: Sequence[DocumentParser],
    inbox: Path,
    path: Path,
    progress: Callable[[int], None] | None,
) -> InboxFile:
    name = file_name(path)
    try:
        before = _stamp(path)
        digest = file_hash(path)
    except OSError as exc:  # not ours to read (its owner's mode, a vanished file): the others go on
        reason = f"cannot be read: {exc.strerror or exc}"
        log.error("inbox: %s %s; it stays in the inbox", name, reason)
        return InboxFile(FileResult(name, None, "failed", reason=reason), None)
    archived = inbox / ARCHIVE / f"{digest}{path.suffix.lower()}"
    try:
        result = import_file(
            container, path, parsers, stored_path=archived, digest=digest, progress=progress, format_hint=HINT
        )
    except (ConnectorError, SQLAlchemyError, OSError) as exc:  # not the file's fault: it stays
        reason = database_error_text(exc) if isinstance(exc, SQLAlchemyError) else str(exc)
        log.error("inbox: %s stays in the inbox: %s", name, reason)
        return InboxFile(FileResult(name, None, "failed", reason=reason), None)
    if _stamp(path) != before:  # written to while it was read: the rest comes with the next pass
        log.warning("inbox: %s changed while it was imported: it stays for the next pass", name)
        return InboxFile(result, None)
    try:
        if result.status == "failed":
            moved = _set_aside(inbox, path, result.reason)
            _stored_at(container, digest, moved)  # what waits there for a person (`status`)
            log.warning("inbox: %s moved to %s/: %s", name, FAILED, result.reason)
            return InboxFile(result, moved)
        moved = _archive(path, archived)
    except OSError as exc:  # e.g. archive/ not writable: the file stays, where its record says it is
        _stored_at(container, digest, path)
        log.error(
            "inbox: %s %s but cannot be moved out (%s): it stays in the inbox", name, result.status, exc
        )
        return InboxFile(result, None)
    _stored_at(container, digest, moved)
    log.info("inbox: %s %s, archived as %s", name, result.status, moved.name)
    for note in result.notes:  # unattended: the log is where an admin hears of it
        log.warning("inbox: %s: %s", name, note)
    return InboxFile(result, moved)


def _stored_at(container: Container, digest: str, where: Path) -> None:
    """Where the file's bytes are now, on its record (a quarantine retry reads them from there)."""
    with unit_of_work(container.sessions) as session:
        session.execute(
            update(ImportedFile)
            .where(ImportedFile.content_hash == digest)
            .values(stored_path=str(where.resolve()))
        )


def _stamp(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_size, status.st_mtime_ns


def _archive(path: Path, archived: Path) -> Path:
    private = _private_folder(archived.parent)
    if archived.exists():  # the same bytes are archived already
        path.unlink()
    else:
        shutil.move(path, archived)
        if private:
            _private(archived)
    return archived


def _private_folder(folder: Path) -> bool:
    """Make archive/ or failed/ this user's alone: they keep statements and exports (payers' names and
    accounts) in clear, as the key file is. One an admin made is left as it is (a folder shared with
    finance, who mend files in failed/). Whether it is private: then the files moved in are made so too."""
    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        _private(folder, 0o700)  # whatever the umask let through
    return folder.stat().st_mode & 0o077 == 0


def _private(path: Path, mode: int = 0o600) -> None:
    with contextlib.suppress(OSError):  # a mount that keeps no modes: left as it is
        path.chmod(mode)


def _set_aside(inbox: Path, path: Path, reason: str) -> Path:
    """Move a file that could not be read to failed/ (never over another one), the reason beside it."""
    failed = inbox / FAILED
    private = _private_folder(failed)
    target = failed / path.name
    counter = 1
    while target.exists():
        target = failed / f"{path.stem}.{counter}{path.suffix}"
        counter += 1
    shutil.move(path, target)
    if private:
        _private(target)
    hint = f"Once mended (or to name its format): connector import '{target.resolve()}' [--format F]"
    target.with_name(target.name + ".reason.txt").write_text(f"{reason}\n{hint}\n", encoding="utf-8")
    return target
