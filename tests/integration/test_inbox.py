"""The inbox folder on SQLite and PostgreSQL: a file written to while it was imported is left for the
next pass, which imports what was added."""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connector import retry
from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.errors import LeaseHeldError
from connector.imports import inbox as inbox_module
from connector.imports import pipeline
from connector.imports.inbox import inbox_lease, process_inbox
from connector.imports.models import ImportedFile
from connector.imports.pipeline import file_hash
from connector.sync.status import container_snapshot
from tests.conftest import REPO
from tests.integration.test_imports import PARSERS, assert_ledger_verifies, in_batches_of, invoice, write


def test_a_file_written_to_while_it_was_imported_stays_and_the_next_pass_takes_the_rest(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    upload = write(inbox / "april.jsonl", invoice("INV-A1", acme, "10.00"), invoice("INV-A2", acme, "20.00"))

    @contextmanager
    def writer_goes_on(name: str) -> Iterator[Callable[[int], None]]:
        def append(_: int) -> None:
            writer.write(json.dumps(invoice("INV-A3", acme, "30.00")) + "\n")
            writer.flush()

        yield append

    with upload.open("a", encoding="utf-8") as writer:  # a copy still going on, paused past the settling
        [first] = process_inbox(container, PARSERS, inbox, settle_seconds=0, progress=writer_goes_on)
    assert (first.result.counts["invoices_posted"], first.moved_to) == (2, None)
    assert upload.exists()

    [second] = process_inbox(container, PARSERS, inbox, settle_seconds=0)

    assert (second.result.counts["unchanged"], second.result.counts["invoices_posted"]) == (2, 1)
    assert second.moved_to is not None
    assert not upload.exists()
    assert_ledger_verifies(container)


def test_a_file_replaced_by_one_of_the_same_size_and_time_while_imported_waits_for_the_next_pass(
    container: Container, customers: dict[str, str], tmp_path: Path
) -> None:
    acme = customers["acme"]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    upload = write(inbox / "april.jsonl", invoice("INV-A1", acme, "10.00"))
    other = write(tmp_path / "april.jsonl", invoice("INV-B1", acme, "10.00"))
    shutil.copy(other, tmp_path / "b.jsonl")
    os.utime(other, ns=(upload.stat().st_atime_ns, upload.stat().st_mtime_ns))  # touch -r
    assert other.stat().st_size == upload.stat().st_size

    @contextmanager
    def replaced(name: str) -> Iterator[Callable[[int], None]]:
        def move_in(_: int) -> None:  # mv, while April is read
            if other.exists():
                other.replace(upload)

        yield move_in

    [first] = process_inbox(container, PARSERS, inbox, settle_seconds=0, progress=replaced)

    assert first.result.counts["invoices_posted"] == 1
    assert first.moved_to is not None
    assert upload.read_bytes() == (tmp_path / "b.jsonl").read_bytes()  # the other file, untouched
    [second] = process_inbox(container, PARSERS, inbox, settle_seconds=0)
    assert (second.result.counts["invoices_posted"], second.result.counts["unchanged"]) == (1, 0)
    archived = sorted((inbox / "archive").iterdir())
    assert [file_hash(path) for path in archived] == [path.stem for path in archived]
    assert len(archived) == 2
    assert_ledger_verifies(container)


def test_a_file_whose_pass_was_killed_waits_on_the_status_and_the_next_pass_takes_it_up(
    container: Container, customers: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    imports = container.settings.imports.model_copy(update={"inbox": inbox})
    monkeypatch.setattr(container, "settings", container.settings.model_copy(update={"imports": imports}))
    write(inbox / "april.jsonl", invoice("INV-A1", customers["acme"], "10.00"))

    @contextmanager
    def killed(name: str) -> Iterator[Callable[[int], None]]:
        def kill(_: int) -> None:
            raise KeyboardInterrupt  # as far as the pass goes, SIGKILL: nothing after it runs

        yield kill

    with pytest.raises(KeyboardInterrupt):
        process_inbox(container, PARSERS, inbox, settle_seconds=0, progress=killed)
    assert list(inbox.glob("*.jsonl")) == []
    assert container_snapshot(container).processing_files == ["april.jsonl"]

    [again] = process_inbox(container, PARSERS, inbox, settle_seconds=0)

    assert (again.result.status, again.result.counts["unchanged"]) == ("imported", 1)  # posted, then killed
    assert again.moved_to is not None
    assert container_snapshot(container).processing_files == []
    assert_ledger_verifies(container)


def test_a_file_dated_ahead_of_the_clock_is_taken_once_unchanged_since_it_was_moved_in_with_a_warning(
    container: Container, customers: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    upload = write(inbox / "april.jsonl", invoice("INV-A1", customers["acme"], "10.00"))
    tomorrow = time.time() + 86400  # written on a machine whose clock is a day ahead
    os.utime(upload, (tomorrow, tomorrow))
    assert inbox_module.waiting_files(inbox, settle_seconds=60) == []  # moved in just now
    assert inbox_module.waiting_files(inbox, settle_seconds=60, now=time.time() + 61) == [upload]

    with caplog.at_level(logging.WARNING, logger="connector"):
        [done] = process_inbox(container, PARSERS, inbox, settle_seconds=0)

    assert (done.result.counts["invoices_posted"], done.moved_to is not None) == (1, True)
    assert any(
        r.getMessage().startswith("inbox: april.jsonl is dated 86")
        and "s ahead of this machine's clock" in r.getMessage()
        for r in caplog.records
    )


def test_a_symbolic_link_in_the_inbox_is_not_followed_and_each_pass_and_the_status_say_so(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    imports = container.settings.imports.model_copy(update={"inbox": inbox})
    monkeypatch.setattr(container, "settings", container.settings.model_copy(update={"imports": imports}))
    target = tmp_path / "payments.csv"
    shutil.copy(REPO / "tests" / "fixtures" / "exports" / "xero_payments.csv", target)
    (inbox / "linked.csv").symlink_to(target)

    with caplog.at_level(logging.WARNING, logger="connector"):
        for _ in range(2):
            assert process_inbox(container, container.document_parsers(), inbox, settle_seconds=0) == []

    said = "inbox: linked.csv is a symbolic link, not followed: move the file itself in"
    assert [r.getMessage() for r in caplog.records].count(said) == 2
    assert (inbox / "linked.csv").is_symlink()
    assert target.read_bytes() == (REPO / "tests" / "fixtures" / "exports" / "xero_payments.csv").read_bytes()
    assert container_snapshot(container).symbolic_links == ["linked.csv"]


def test_a_stopping_daemon_ends_the_pass_after_the_batch_it_is_at_and_the_next_pass_takes_it_up(
    container: Container, customers: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = customers["acme"]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    in_batches_of(2, container, monkeypatch)
    write(inbox / "a.jsonl", *[invoice(f"INV-A{n}", acme, "10.00") for n in range(5)])
    write(inbox / "b.jsonl", invoice("INV-B1", acme, "20.00"))

    @contextmanager
    def told_to_stop(name: str) -> Iterator[Callable[[int], None]]:
        yield lambda _: retry.STOPPING.set()  # SIGTERM while the first batch of a.jsonl is posted

    try:
        [stopped] = process_inbox(container, PARSERS, inbox, settle_seconds=0, progress=told_to_stop)
    finally:
        retry.STOPPING.clear()
    assert (stopped.result.status, stopped.moved_to) == ("stopped", None)
    assert sorted(path.name for path in inbox.glob("*.jsonl")) == ["a.jsonl", "b.jsonl"]  # b: not begun

    again = process_inbox(container, PARSERS, inbox, settle_seconds=0)

    assert [(f.result.counts["unchanged"], f.result.counts["invoices_posted"]) for f in again] == [
        (2, 3),
        (0, 1),
    ]
    assert_ledger_verifies(container)


def test_a_damaged_workbook_is_set_aside_and_the_files_after_it_are_imported(
    container: Container, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    workbook = (REPO / "tests" / "fixtures" / "exports" / "quickbooks_online_invoices.xlsx").read_bytes()
    with zipfile.ZipFile(io.BytesIO(workbook)) as archive:
        sheet = archive.getinfo("xl/worksheets/sheet1.xml")
    start = sheet.header_offset + 30 + len(sheet.filename.encode()) + 16  # inside its compressed data
    damaged = bytearray(workbook)
    damaged[start : start + 8] = bytes(8)
    (inbox / "a_damaged.xlsx").write_bytes(bytes(damaged))
    shutil.copy(REPO / "tests" / "fixtures" / "exports" / "xero_payments.csv", inbox / "b_payments.csv")

    first, second = process_inbox(container, container.document_parsers(), inbox, settle_seconds=0)

    assert (first.result.status, first.moved_to) == ("failed", inbox / "failed" / "a_damaged.xlsx")
    assert first.result.reason.startswith("a_damaged.xlsx: ")
    assert (inbox / "failed" / "a_damaged.xlsx.reason.txt").exists()
    assert second.result.status == "imported"
    assert first.moved_to is not None
    assert second.moved_to is not None
    kept = [inbox / "failed", first.moved_to, inbox / "archive", second.moved_to]
    assert [oct(path.stat().st_mode & 0o777) for path in kept] == ["0o700", "0o600", "0o700", "0o600"]


def test_a_file_whose_reason_cannot_be_written_stays_in_the_inbox_and_is_set_aside_once_it_can(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "bad.csv").write_bytes(b"garbage\n\x00\x01")
    write_text = Path.write_text

    def disk_full(path: Path, *args: Any, **kwargs: Any) -> int:
        if path.name.endswith(inbox_module.REASON):
            write_text(path, "cut sh", encoding="utf-8")
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return write_text(path, *args, **kwargs)

    def stored() -> str | None:
        with unit_of_work(container.sessions) as session:
            return session.scalars(select(ImportedFile.stored_path)).one()

    monkeypatch.setattr(Path, "write_text", disk_full)
    [full] = process_inbox(container, container.document_parsers(), inbox, settle_seconds=0)
    assert (full.result.status, full.moved_to) == ("failed", None)
    assert sorted(
        path.name for path in inbox.rglob("*") if path.is_file() and path.name != inbox_module.FOLDER_ID
    ) == ["bad.csv"]
    assert stored() == str((inbox / "bad.csv").resolve())
    assert container_snapshot(container).failed_files == []

    monkeypatch.setattr(Path, "write_text", write_text)
    [freed] = process_inbox(container, container.document_parsers(), inbox, settle_seconds=0)
    assert (freed.result.status, freed.moved_to) == ("failed", inbox / "failed" / "bad.csv")
    assert stored() == str((inbox / "failed" / "bad.csv").resolve())
    assert container_snapshot(container).failed_files == ["bad.csv"]


def test_an_archive_folder_an_admin_shared_keeps_its_mode_and_so_do_the_files_moved_in(
    container: Container, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "archive").mkdir(parents=True)
    (inbox / "archive").chmod(0o2770)  # shared with finance
    for name in ("a.csv", "b.csv"):  # two passes: the second finds the folder there
        shutil.copy(REPO / "tests" / "fixtures" / "exports" / "xero_payments.csv", inbox / name)
        (inbox / name).chmod(0o640)
        [done] = process_inbox(container, container.document_parsers(), inbox, settle_seconds=0)
        assert done.moved_to is not None
        assert oct(done.moved_to.stat().st_mode & 0o777) == "0o640"
    assert oct((inbox / "archive").stat().st_mode & 0o7777) == "0o2770"


def test_a_file_lacking_a_column_its_mapping_reads_is_archived_and_the_log_names_the_column(
    container: Container, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    payments = REPO / "tests" / "fixtures" / "exports" / "zoho_books_payments.csv"
    text = payments.read_text(encoding="utf-8-sig").replace(",CustomerID,", ",Customer ID,", 1)
    (inbox / "payments.csv").write_text(text, encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="connector"):
        [done] = process_inbox(container, container.document_parsers(), inbox, settle_seconds=0)

    assert done.result.status == "imported"
    assert done.moved_to is not None
    warned = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any(
        message.startswith("inbox: payments.csv: columns the mapping zoho_books.payments reads")
        and "'CustomerID' (party_external_id)" in message
        for message in warned
    ), warned


def test_a_file_that_cannot_be_read_stays_and_the_files_after_it_are_imported(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a_private.csv").write_text("not ours\n", encoding="utf-8")
    shutil.copy(REPO / "tests" / "fixtures" / "exports" / "xero_payments.csv", inbox / "b_payments.csv")
    hashed = pipeline.file_hash

    def owners_only(path: Path) -> str:
        if path.name == "a_private.csv":
            raise PermissionError(13, "Permission denied", str(path))
        return hashed(path)

    monkeypatch.setattr(inbox_module, "file_hash", owners_only)

    first, second = process_inbox(container, container.document_parsers(), inbox, settle_seconds=0)

    assert (first.result.status, first.result.reason, first.moved_to) == (
        "failed",
        "cannot be read: Permission denied",
        None,
    )
    assert (inbox / "a_private.csv").exists()
    assert second.result.status == "imported"
    assert second.moved_to is not None


def test_a_file_the_inbox_cannot_let_go_names_the_paths_refused_and_the_folder_to_make_writable(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    upload = inbox / "xero_payments.csv"
    shutil.copy(REPO / "tests" / "fixtures" / "exports" / "xero_payments.csv", upload)
    claimed = inbox / "processing" / "xero_payments.csv"

    def read_only_inbox(self: Path, target: Path) -> Path:  # as root, chmod would not stop the move
        raise PermissionError(errno.EPERM, "Operation not permitted", str(self), None, str(target))

    monkeypatch.setattr(Path, "rename", read_only_inbox)
    with caplog.at_level(logging.ERROR, logger="connector"):
        [kept] = process_inbox(container, container.document_parsers(), inbox, settle_seconds=0)
    reason = (
        f"cannot be moved to processing/ ({upload} → {claimed}: Operation not permitted): the service "
        f"needs write access to {inbox} and to processing/ in it"
    )
    assert (kept.result.status, kept.moved_to, kept.stuck) == ("failed", None, reason)
    assert f"inbox: xero_payments.csv {reason}; it stays in the inbox" in caplog.messages
    assert upload.exists()


def test_a_file_imported_but_not_archivable_stays_its_record_pointing_at_it_until_it_is_archived(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    upload = inbox / "payments.csv"
    shutil.copy(REPO / "tests" / "fixtures" / "exports" / "xero_payments.csv", upload)
    archive = inbox_module._archive

    def read_only_folder(path: Path, archived: Path) -> Path:
        raise PermissionError(13, "Permission denied", str(archived.parent))

    def stored() -> str | None:
        with unit_of_work(container.sessions) as session:
            return session.scalars(select(ImportedFile.stored_path)).one()

    monkeypatch.setattr(inbox_module, "_archive", read_only_folder)
    [kept] = process_inbox(container, container.document_parsers(), inbox, settle_seconds=0)
    assert (kept.result.status, kept.moved_to) == ("imported", None)
    assert stored() == str(upload.resolve())
    monkeypatch.setattr(inbox_module, "_archive", archive)
    [later] = process_inbox(container, container.document_parsers(), inbox, settle_seconds=0)
    assert later.result.status == "skipped"
    assert later.moved_to is not None
    assert stored() == str(later.moved_to.resolve())
    assert not upload.exists()


def seen_by_another_path(tmp_path: Path, inbox: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`inbox` reached by another path, as a bind mount or a share mounted elsewhere shows it: a path
    `resolve()` does not lead back to the folder's own."""
    other = tmp_path / "mounted"
    other.symlink_to(inbox, target_is_directory=True)
    monkeypatch.setattr(Path, "resolve", lambda self, strict=False: self.absolute())
    return other


def test_an_inbox_reached_by_two_paths_is_passed_over_by_one_pass_at_a_time(
    container: Container, customers: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    other = seen_by_another_path(tmp_path, inbox, monkeypatch)
    write(inbox / "april.jsonl", invoice("INV-A1", customers["acme"], "10.00"))
    refused: list[str] = []

    @contextmanager
    def meanwhile(name: str) -> Iterator[Callable[[int], None]]:
        def another_replica(_: int) -> None:
            with pytest.raises(LeaseHeldError) as held:
                process_inbox(container, PARSERS, other, settle_seconds=0)
            refused.append(str(held.value))

        yield another_replica

    [done] = process_inbox(container, PARSERS, inbox, settle_seconds=0, progress=meanwhile)

    assert (done.result.status, done.moved_to is not None) == ("imported", True)
    assert refused
    assert "is running elsewhere now" in refused[0]
    assert inbox_lease(other) == inbox_lease(inbox)
    kept = inbox / inbox_module.FOLDER_ID
    assert oct(kept.stat().st_mode & 0o777) == oct(0o644 & ~current_umask())
    assert process_inbox(container, PARSERS, inbox, settle_seconds=0) == []  # not a file to import


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_an_inbox_whose_folder_cannot_keep_an_id_is_told_apart_by_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir(mode=0o700)
    assert inbox_lease(inbox) == inbox_lease(inbox)  # made once, read since
    assert (inbox / inbox_module.FOLDER_ID).stat().st_mode & 0o077 == 0  # private, as the folder is
    shared = tmp_path / "shared"
    shared.mkdir()

    def read_only(*args: Any, **kwargs: Any) -> int:
        raise OSError(errno.EROFS, "Read-only file system")

    with monkeypatch.context() as patched:
        patched.setattr(os, "open", read_only)
        assert inbox_lease(shared) == f"inbox {shared.resolve()}"
    (shared / inbox_module.FOLDER_ID).write_text("not an id\n", encoding="ascii")
    with caplog.at_level(logging.WARNING):
        assert inbox_lease(shared) == f"inbox {shared.resolve()}"
    assert "holds no inbox id" in caplog.text


def test_a_file_another_pass_archived_while_this_one_imported_it_is_counted_gone_and_the_pass_goes_on(
    container: Container, customers: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    acme = customers["acme"]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write(inbox / "a-april.jsonl", invoice("INV-A1", acme, "10.00"))
    write(inbox / "b-may.jsonl", invoice("INV-B1", acme, "20.00"))
    taken = tmp_path / "taken"
    taken.mkdir()

    @contextmanager
    def taken_meanwhile(name: str) -> Iterator[Callable[[int], None]]:
        def another_pass_archives_it(_: int) -> None:  # one that reached the folder by another path
            claimed = inbox / inbox_module.PROCESSING / name
            if name == "a-april.jsonl" and claimed.exists():
                claimed.rename(taken / name)

        yield another_pass_archives_it

    with caplog.at_level(logging.WARNING):
        first, second = process_inbox(container, PARSERS, inbox, settle_seconds=0, progress=taken_meanwhile)

    assert (first.result.status, first.moved_to, first.gone) == ("imported", None, True)
    assert "a-april.jsonl imported but went away from processing/ meanwhile" in caplog.text
    assert (second.result.status, second.moved_to is not None, second.gone) == ("imported", True, False)
    with unit_of_work(container.sessions) as session:  # where the other pass archives it, not processing/
        stored = session.scalars(select(ImportedFile.stored_path).order_by(ImportedFile.id)).first()
    assert stored is not None
    assert Path(stored).parent == (inbox / "archive").resolve()
    assert_ledger_verifies(container)
