"""The inbox folder: files dropped into it are imported, then moved out of the way.

    inbox/            files waiting (anything not hidden and not a partial download)
    inbox/processing/ the file being imported, taken out of the inbox first (a rename)
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

A file is moved to processing/ before it is read, so that what is archived is what was imported: a file
of the same name moved into the inbox meanwhile is another file, left for the next pass. What a pass
that was killed left in processing/ is taken up first by the next one (`connector status` names it
meanwhile).

One pass at a time over a folder, however it is reached: a bind mount, or a share mounted at another
path on another host, is the same folder under another name. Its passes are told apart by an id kept in
the folder (`FOLDER_ID`, made by the first pass), by its path only where it can keep none (not
writable). A file gone from processing/ while it was imported (another pass over the folder took it,
one that reached it before the id was kept) is logged and counted, and the pass goes on.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import stat
import time
import uuid
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
from connector.errors import ConnectorError, StoppedWaitingError, StoppingError
from connector.imports.models import ImportedFile
from connector.imports.pipeline import FileResult, file_hash, file_name, import_file
from connector.private_files import make_private
from connector.sync.leases import lease

log = logging.getLogger(__name__)

ARCHIVE = "archive"
FAILED = "failed"
PROCESSING = "processing"
REASON = ".reason.txt"  # beside a file set aside in failed/, named after it
HINT = "import it with `connector import FILE --format NAME`"  # for a file no parser recognises
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download", ".filepart")
FOLDER_ID = ".connector-inbox-id"  # hidden, so never taken for an import
_AN_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class InboxFile:
    """What a pass did with one file: its import's result and where the file went (None: it stayed);
    `stuck`, why it stayed when that is for a person to see to (the inbox or archive/ not writable, the
    database full or gone): the pass failed at it. A stop, or a file written to meanwhile, is none."""

    result: FileResult
    moved_to: Path | None
    stuck: str | None = None
    gone: bool = False  # gone from processing/ by the time it was imported: not archived by this pass


def waiting_files(inbox: Path, *, settle_seconds: float = 2.0, now: float | None = None) -> list[Path]:
    """The files ready to import, oldest first: regular, not hidden, not a partial download, and
    unchanged for `settle_seconds`. A file dated ahead of this machine's clock (the writer's clock out of
    step, a date kept by unzip or `cp -p`) is judged by when it last changed here, its status change
    time: by its own date it would wait until the clock caught up."""
    now = time.time() if now is None else now
    ready = []
    for entry in _entries(inbox):
        if not entry.is_file(follow_symlinks=False):
            continue
        status = entry.stat(follow_symlinks=False)
        changed = min(status.st_mtime, status.st_ctime)  # the same, but for a date set ahead of the change
        if now - changed >= settle_seconds:
            ready.append((changed, entry.name, Path(entry.path)))
    return [path for _, _, path in sorted(ready)]


def symbolic_links(inbox: Path) -> list[str]:
    """The symbolic links in the inbox, which are never followed: what was imported could differ from
    what the archive keeps (a link, its target changing since), and a link can name any file this
    service may read. The file itself is to be moved in."""
    return sorted(file_name(Path(entry.path)) for entry in _entries(inbox) if entry.is_symlink())


def _entries(inbox: Path) -> list[os.DirEntry[str]]:
    """What is in the inbox but for hidden files and partial downloads (which are let be)."""
    if not inbox.is_dir():
        return []
    with os.scandir(inbox) as entries:
        return [
            entry
            for entry in entries
            if not entry.name.startswith((".", "~")) and not entry.name.lower().endswith(PARTIAL_SUFFIXES)
        ]


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
    with lease(container.sessions, inbox_lease(inbox), wait=False):  # one pass at a time
        for link in symbolic_links(inbox):  # each pass: it waits for a person, who may not see why
            log.warning("inbox: %s is a symbolic link, not followed: move the file itself in", link)
        left = waiting_files(inbox / PROCESSING, settle_seconds=settle_seconds)  # by a pass killed mid-file
        for path in [*left, *waiting_files(inbox, settle_seconds=settle_seconds)]:
            if retry.STOPPING.is_set():  # the daemon is stopping: the files still waiting are the next pass's
                break
            _warn_if_dated_ahead(path)
            with progress(file_name(path)) if progress else nullcontext(None) as advance:
                done.append(_process(container, parsers, inbox, path, advance))
        with contextlib.suppress(OSError):  # emptied: the inbox looks as it did (kept if a file is left)
            (inbox / PROCESSING).rmdir()
    return done


def inbox_lease(inbox: Path) -> str:
    """The name of the lease a pass over `inbox` holds (and the daemon's turns at it): the folder's id,
    the same by whatever path the folder is reached; its resolved path where it keeps none."""
    folder_id = _folder_id(inbox)
    return f"inbox {inbox.resolve()}" if folder_id is None else f"inbox folder {folder_id}"


def _folder_id(inbox: Path) -> str | None:
    """The id `inbox` keeps in `FOLDER_ID`, made now if it has none: created exclusively, so that of
    replicas making it at once one makes it and the others read it. None where the folder cannot keep
    one (not writable, not there) or keeps something else (then a person is told)."""
    kept = inbox / FOLDER_ID
    made = uuid.uuid4().hex
    private = inbox.is_dir() and inbox.stat().st_mode & 0o077 == 0  # as archive/'s files (`_archive`)
    try:
        descriptor = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    except FileExistsError:
        return _read_folder_id(kept)
    except OSError:  # read-only, or another user's folder: an id an admin made there may still be read
        return _read_folder_id(kept) if kept.is_file() else None
    try:
        os.write(descriptor, f"{made}\n".encode("ascii"))
    except OSError:  # a full disk: no empty id file left behind to be read forever
        kept.unlink(missing_ok=True)
        return None
    finally:
        os.close(descriptor)
    if private:
        make_private(kept)  # whatever the umask let through
    return made


def _read_folder_id(kept: Path) -> str | None:
    """The id in `kept`; an empty one is being written by the replica that made it this instant."""
    for _ in range(20):
        try:
            text = kept.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return None
        if _AN_ID.fullmatch(text):
            return text
        if text:
            break
        time.sleep(0.05)
    log.warning(
        "inbox: %s holds no inbox id: passes over the folder are told apart by its path, so one reached "
        "by two paths may be passed over twice at once; delete the file for a new id to be made",
        kept,
    )
    return None


def _warn_if_dated_ahead(path: Path) -> None:
    with contextlib.suppress(OSError):
        ahead = path.stat().st_mtime - time.time()
        if ahead > 1:  # a second of drift (a file server's clock) is not worth a word
            log.warning(
                "inbox: %s is dated %.0f s ahead of this machine's clock (is one of the clocks wrong?); "
                "taken as unchanged since it was moved in",
                file_name(path),
                ahead,
            )


def _process(
    container: Container,
    parsers: Sequence[DocumentParser],
    inbox: Path,
    path: Path,
    progress: Callable[[int], None] | None,
) -> InboxFile:
    name = file_name(path)
    try:
        claimed = _claim(inbox, path)
    except OSError as exc:  # the inbox not writable, a vanished file: the others go on
        reason = _not_taken(inbox, exc)
        log.error("inbox: %s %s; it stays in the inbox", name, reason)
        return InboxFile(FileResult(name, None, "failed", reason=reason), None, reason)
    try:
        before = _stamp(claimed)
        digest = file_hash(claimed)
    except OSError as exc:  # not ours to read (its owner's mode): the others go on
        reason = f"cannot be read: {exc.strerror or exc}"
        log.error("inbox: %s %s; it stays %s", name, reason, _where(inbox, _unclaim(inbox, claimed)))
        return InboxFile(FileResult(name, None, "failed", reason=reason), None, reason)
    archived = inbox / ARCHIVE / f"{digest}{claimed.suffix.lower()}"
    try:
        result = import_file(
            container,
            claimed,
            parsers,
            stored_path=archived,
            digest=digest,
            progress=progress,
            format_hint=HINT,
        )
    except StoppedWaitingError as exc:  # told to stop while another process imported: not begun
        where = _where(inbox, _unclaim(inbox, claimed))
        log.info("inbox: %s not begun (%s); it stays %s for the next pass", name, exc, where)
        reason = f"nothing of it was imported, it stays {where} untouched: {exc}"
        return InboxFile(FileResult(name, None, "stopped", reason=reason), None)
    except StoppingError:  # told to stop between two batches: what was committed stays, so does it
        where = _where(inbox, _unclaim(inbox, claimed))
        log.info("inbox: %s stopped part-way; it stays %s for the next pass", name, where)
        reason = (
            f"what was imported of it stays in the ledger; it stays {where} and the next pass goes on "
            "from there"
        )
        return InboxFile(FileResult(name, None, "stopped", reason=reason), None)
    except (ConnectorError, SQLAlchemyError, OSError) as exc:  # not the file's fault: it stays
        reason = database_error_text(exc) if isinstance(exc, SQLAlchemyError) else str(exc)
        log.error("inbox: %s stays %s: %s", name, _where(inbox, _unclaim(inbox, claimed)), reason)
        return InboxFile(FileResult(name, None, "failed", reason=reason), None, reason)
    try:
        changed = _stamp(claimed) != before
    except OSError:  # gone from processing/ meanwhile: another pass took it
        return _gone(name, result)
    if changed:  # written to while it was read: the rest comes with the next pass
        where = _where(inbox, _unclaim(inbox, claimed))
        log.warning("inbox: %s changed while it was imported: it stays %s for the next pass", name, where)
        return InboxFile(result, None)
    try:
        if result.status == "failed":
            moved = _set_aside(inbox, claimed, result.reason)
            _stored_at(container, digest, moved)  # what waits there for a person (`status`)
            log.warning("inbox: %s moved to %s/%s: %s", name, FAILED, moved.name, result.reason)
            return InboxFile(result, moved)
        moved = _archive(claimed, archived)
    except OSError as exc:  # e.g. archive/ not writable: the file stays, where its record says it is
        if not os.path.lexists(claimed):  # or it is gone, and its record is the other pass's to write
            return _gone(name, result)
        kept = _unclaim(inbox, claimed)
        _stored_at(container, digest, kept)
        log.error(
            "inbox: %s %s but cannot be moved out (%s): it stays %s",
            name,
            result.status,
            exc,
            _where(inbox, kept),
        )
        return InboxFile(result, None, f"{result.status} but cannot be moved out: {exc.strerror or exc}")
    _stored_at(container, digest, moved)
    log.info("inbox: %s %s, archived as %s", name, result.status, moved.name)
    for note in result.notes:  # unattended: the log is where an admin hears of it
        log.warning("inbox: %s: %s", name, note)
    return InboxFile(result, moved)


def _gone(name: str, result: FileResult) -> InboxFile:
    """A file gone from processing/ while this pass imported it: another pass over the folder took it
    (one that reached it by another path before the folder kept its id). Its import is idempotent: what
    it posted stays once; the file is the other pass's to archive, and this pass goes on."""
    log.warning(
        "inbox: %s %s but went away from %s/ meanwhile (another pass over the folder took it?): "
        "not archived by this pass",
        name,
        result.status,
        PROCESSING,
    )
    return InboxFile(result, None, gone=True)


def _not_taken(inbox: Path, exc: OSError) -> str:
    """Why a file could not be moved to processing/: the paths the system refused (the file and where
    it was to go, or processing/ not made) and, when it was refused for want of rights, what to grant."""
    paths = " → ".join(str(one) for one in (exc.filename, exc.filename2) if one is not None)
    if not paths:  # one of that name waits there, not a regular file
        return f"cannot be taken: {exc.strerror or exc}"
    reason = f"cannot be moved to {PROCESSING}/ ({paths}: {exc.strerror or exc})"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason += f": the service needs write access to {inbox} and to {PROCESSING}/ in it"
    return reason


def _claim(inbox: Path, path: Path) -> Path:
    """The file moved to processing/ (one left there already stays): from here on nobody moving a file
    into the inbox can change what is imported, hashed and archived, whatever its size and times."""
    folder = inbox / PROCESSING
    if path.parent == folder:
        return path
    _private_folder(folder)
    claimed = folder / path.name
    if claimed.exists():  # only a pass, holding the inbox's lease, writes there: no race with the rename
        raise OSError(errno.EEXIST, f"one of that name waits in {PROCESSING}/ to be imported first")
    path.rename(claimed)
    if not stat.S_ISREG(claimed.lstat().st_mode):  # a symbolic link moved in since the inbox was listed
        _unclaim(inbox, claimed)
        raise OSError(errno.EINVAL, "not a regular file")
    return claimed


def _unclaim(inbox: Path, claimed: Path) -> Path:
    """A claimed file back in the inbox, for the next pass; where it is now. Never over a file moved in
    since (a rename would replace it): then, or where the file system keeps no hard links, it stays in
    processing/, which the next pass takes up first."""
    back = inbox / claimed.name
    try:
        os.link(claimed, back, follow_symlinks=False)
    except OSError:
        return claimed
    claimed.unlink()
    return back


def _where(inbox: Path, path: Path) -> str:
    return "in the inbox" if path.parent == inbox else f"in {PROCESSING}/"


def _stored_at(container: Container, digest: str, where: Path) -> None:
    """Where the file's bytes are now, on its record (a quarantine retry reads them from there)."""
    with unit_of_work(container.sessions) as session:
        session.execute(
            update(ImportedFile)
            .where(ImportedFile.content_hash == digest)
            .values(stored_path=str(where.resolve()))
        )


def _stamp(path: Path) -> tuple[int, ...]:
    """What changes when a file is written to, or its times set back (a claimed file keeps its inode)."""
    status = path.lstat()
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns


def _archive(path: Path, archived: Path) -> Path:
    private = _private_folder(archived.parent)
    if archived.exists():  # the same bytes are archived already
        path.unlink()
    else:
        shutil.move(path, archived)
        if private:
            make_private(archived)
    return archived


def _private_folder(folder: Path) -> bool:
    """Make archive/ or failed/ this user's alone: they keep statements and exports (payers' names and
    accounts) in clear, as the key file is. One an admin made is left as it is (a folder shared with
    finance, who mend files in failed/). Whether it is private: then the files moved in are made so too."""
    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        make_private(folder, 0o700)  # whatever the umask let through
    return folder.stat().st_mode & 0o077 == 0


def _set_aside(inbox: Path, path: Path, reason: str) -> Path:
    """Move a file that could not be read to failed/ (never over another one), the reason beside it.
    The reason is written first: a file in failed/ always has it (by it `status` tells a file set aside
    from one put there by hand), and one whose reason cannot be written (a full disk) is not moved: the
    OSError leaves it where it was."""
    failed = inbox / FAILED
    private = _private_folder(failed)
    target = failed / path.name
    counter = 1
    while target.exists():
        target = failed / f"{path.stem}.{counter}{path.suffix}"
        counter += 1
    beside = target.with_name(target.name + REASON)
    hint = f"Once mended (or to name its format): connector import '{target.resolve()}' [--format F]"
    try:
        beside.write_text(f"{reason}\n{hint}\n", encoding="utf-8")
        shutil.move(path, target)
    except OSError:
        with contextlib.suppress(OSError):  # a reason cut short, or beside no file
            beside.unlink(missing_ok=True)
        raise
    if private:
        make_private(target)
    return target
