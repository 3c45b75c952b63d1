"""Admins and ops at the command line: preview a mapping, import customers, decide reviews, keep runs safe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from connector.bootstrap import build_container
from connector.db import unit_of_work
from connector.ledger.posting import Ledger
from connector.settings import load_settings
from connector.sync.leases import IMPORTS, lease
from tests.conftest import REPO, copy_example_config
from tests.e2e.conftest import Result, rows_in_workspace_table, stopped_while_waiting, table_column
from tests.integration.helpers import invoice

pytestmark = pytest.mark.usefixtures("isolated_cwd")

CONTACTS = """id,Full_Name,Email,Phone,Mailing_Country,Modified_Time
1,王小明,wang@acme.cn,138 0013 8000,China,2026-11-01T10:00:00+08:00
2,Li Wei,li@acme.cn,,China,2026-11-01T10:00:00+08:00
3,,nobody@acme.cn,,China,2026-11-01T10:00:00+08:00
4,Wang Xiaoming,WANG@acme.cn,,China,2026-11-01T10:00:00+08:00
"""
Cli = Callable[..., Result]


@pytest.fixture
def workspace(isolated_cwd: Path) -> Path:
    copy_example_config(isolated_cwd)
    (isolated_cwd / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    return isolated_cwd


@pytest.fixture
def without_ledger(isolated_cwd: Path) -> Path:
    """The workspace before `connector db upgrade`: what needs no database runs there."""
    copy_example_config(isolated_cwd, ledger=False)
    (isolated_cwd / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    return isolated_cwd


def test_a_csv_without_a_column_the_mapping_reads_is_named_and_one_without_the_id_refused(
    cli: Cli, workspace: Path
) -> None:
    renamed = CONTACTS.replace("Email", "E-mail", 1)
    (workspace / "renamed.csv").write_text(renamed, encoding="utf-8")
    result = cli("customers", "import", "zoho_contacts", "renamed.csv")
    assert result.code == 0, result.err
    assert "so read as empty: 'Account_Name.name' (company), 'Email' (email), " in result.err
    (workspace / "no_id.csv").write_text(CONTACTS.replace("id,", "Contact Id,", 1), encoding="utf-8")
    refused = cli("customers", "import", "zoho_contacts", "no_id.csv")
    assert refused.code == 1
    assert "no_id.csv: no column 'id' for the records' id (external_id)" in refused.err


WESTERN = """id,Full_Name,Email,Mailing_Country,Modified_Time
21,Hans Müller,hans@acme.de,Germany,2026-11-01T10:00:00+01:00
22,Eva Süß,eva@acme.de,Germany,2026-11-01T10:00:00+01:00
23,Otto Öko,otto@acme.de,Germany,2026-11-01T10:00:00+01:00
"""


def test_a_windows_western_european_contacts_csv_imports_its_names_whole_saying_the_encoding_was_guessed(
    cli: Cli, workspace: Path
) -> None:
    (workspace / "contacts1252.csv").write_bytes(WESTERN.encode("cp1252"))
    guessed = "contacts1252.csv: the text encoding was guessed as cp1252: check that accented letters"
    preview = cli("mapping", "preview", "zoho_contacts", "--sample", "contacts1252.csv", "--json")
    assert preview.code == 0, preview.err
    payload = json.loads(preview.out)
    names = [f["mapped"] for r in payload["records"] for f in r["fields"] if f["target"] == "name"]
    assert names == ["Hans Müller", "Eva Süß", "Otto Öko"]
    assert payload["notes"][0].startswith("the text encoding was guessed as cp1252")
    imported = cli("customers", "import", "zoho_contacts", "contacts1252.csv")
    assert imported.code == 0, imported.err
    assert guessed in " ".join(imported.err.split())
    listed = cli("customers", "list", "--json")
    assert sorted(c["name"] for c in json.loads(listed.out)) == ["Eva Süß", "Hans Müller", "Otto Öko"]


def test_a_contacts_csv_with_one_stray_byte_imports_naming_its_row_as_an_export_import_does(
    cli: Cli, workspace: Path
) -> None:
    rows = [f"{n},José Pérez {n},j{n}@acme.es,Spain,2026-11-01T10:00:00+01:00\n" for n in range(1, 41)]
    text = "id,Full_Name,Email,Mailing_Country,Modified_Time\n" + "".join(rows)
    cut = text.encode().replace("José Pérez 17,".encode(), b"Jos\xc3\xa9 Pe\xc3,")  # cut mid-character
    (workspace / "cut.csv").write_bytes(cut)
    stray = "row 18 holds bytes that are not UTF-8 text (a stray byte, or a character cut short), read as"
    preview = cli("mapping", "preview", "zoho_contacts", "--sample", "cut.csv", "--json")
    assert preview.code == 0, preview.err
    assert json.loads(preview.out)["notes"][0].startswith(stray)
    imported = cli("customers", "import", "zoho_contacts", "cut.csv")
    assert imported.code == 0, imported.err
    assert f"cut.csv: {stray}" in " ".join(imported.err.split())
    names = {c["name"] for c in json.loads(cli("customers", "list", "--json").out)}
    assert len(names) == 40
    assert "José Pe\ufffd" in names


def test_an_inbound_mapping_declaring_its_encoding_reads_the_file_in_it_without_a_note(
    cli: Cli, workspace: Path
) -> None:
    mapping = workspace / "mappings" / "zoho_contacts.toml"
    mapping.write_text(
        mapping.read_text(encoding="utf-8").replace(
            'kind = "inbound"', 'kind = "inbound"\nencoding = "cp1252"'
        ),
        encoding="utf-8",
    )
    (workspace / "suss.csv").write_bytes(WESTERN.replace("Hans Müller", "Hans").encode("cp1252"))
    preview = cli("mapping", "preview", "zoho_contacts", "--sample", "suss.csv", "--json")
    assert preview.code == 0, preview.err
    payload = json.loads(preview.out)
    names = [f["mapped"] for r in payload["records"] for f in r["fields"] if f["target"] == "name"]
    assert names == ["Hans", "Eva Süß", "Otto Öko"]
    assert not any("encoding" in note for note in payload["notes"])


def test_preview_shows_source_beside_mapped_values_and_why_a_record_would_fail(
    cli: Cli, without_ledger: Path
) -> None:
    result = cli("mapping", "preview", "zoho_contacts", "--sample", "contacts.csv", "--limit", "3", "--json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert payload["failing"] == 1
    first = {field["target"]: field for field in payload["records"][0]["fields"]}
    assert (first["phone"]["value"], first["phone"]["mapped"]) == ("138 0013 8000", "+8613800138000")
    third = {field["target"]: field for field in payload["records"][2]["fields"]}
    assert payload["records"][2]["record"] == "contacts.csv row 4"
    assert third["name"]["error"] == "Full_Name: a value is required here but the source has none"
    table = cli("mapping", "preview", "zoho.Contacts", "--sample", "contacts.csv")
    assert "4 record(s) through zoho.Contacts: 3 map cleanly, 1 would fail" in table.out
    assert not (without_ledger / "connector.db").exists()  # a preview writes nothing


def test_a_name_cut_in_the_middle_of_an_emoji_previews_and_imports_with_a_replacement_character(
    cli: Cli, workspace: Path
) -> None:
    (workspace / "cut.json").write_text(
        '[{"id": "9", "Full_Name": "Li \\ud83d", "Email": "li9@acme.cn", "Mailing_Country": "China"}]',
        encoding="utf-8",
    )
    preview = cli("mapping", "preview", "zoho_contacts", "--sample", "cut.json", "--json")
    assert preview.code == 0, preview.err
    name = next(f for f in json.loads(preview.out)["records"][0]["fields"] if f["target"] == "name")
    assert (name["value"], name["mapped"]) == ("Li \ufffd", "Li \ufffd")
    table = cli("mapping", "preview", "zoho_contacts", "--sample", "cut.json")
    assert "1 record(s) through zoho.Contacts: 1 map cleanly, 0 would fail" in table.out
    imported = cli("customers", "import", "zoho_contacts", "cut.json")
    assert imported.code == 0, imported.err
    [customer] = json.loads(cli("customers", "list", "--search", "li9@acme.cn", "--json").out)
    assert customer["name"] == "Li \ufffd"


def test_preview_of_an_export_mapping_shows_the_documents_of_its_sample_and_the_rows_it_cannot_read(
    cli: Cli, without_ledger: Path
) -> None:
    sample = str(REPO / "tests" / "fixtures" / "exports" / "zoho_books_payments.csv")
    result = cli(
        "mapping", "preview", "export_zoho_books_payments", "--sample", sample, "--limit", "4", "--json"
    )
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert (payload["mapping"], payload["total"], payload["failing"]) == ("zoho_books.payments", 7, 2)
    first = payload["items"][0]["document"]
    assert (first["external_id"], first["amount"]["amount"], first["party"]["name"]) == (
        "2954000000112001",
        "5000.00",
        "Acme Trading Co.",
    )
    assert [a["invoice"] for a in first["allocations"]] == ["INV-000101", "INV-000102", "INV-000103"]
    assert payload["items"][3] == {"row": 7, "error": "amount (Amount): not an amount: '7,5OO.00'"}
    table = cli("mapping", "preview", "zoho_books.payments", "--sample", sample, "--limit", "4")
    assert (
        "7 item(s) of zoho_books_payments.csv: 5 document(s), 2 unreadable (first 4 of 7 shown)" in table.out
    )
    assert not (without_ledger / "connector.db").exists()


def test_preview_counts_the_whole_sample_and_limits_only_the_rows_it_shows(cli: Cli, workspace: Path) -> None:
    good = "PMT-1{0:02d},29540001{0:02d},2026-03-02,Acme Trading Co.,2954000000045001,,,,100.00,0.00,"
    good += ",USD,,,,,"  # no bank charges
    header = (
        (REPO / "tests" / "fixtures" / "exports" / "zoho_books_payments.csv")
        .read_text(encoding="utf-8")
        .splitlines()[0]
    )
    bad = good.format(13).replace("100.00", "1OO.00")
    rows = [header, *(good.format(n) for n in range(1, 13)), bad]
    (workspace / "late.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = cli("mapping", "preview", "zoho_books.payments", "--sample", "late.csv", "--json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert (len(payload["items"]), payload["total"], payload["failing"]) == (10, 13, 1)
    table = cli("mapping", "preview", "zoho_books.payments", "--sample", "late.csv")
    assert "13 item(s) of late.csv: 12 document(s), 1 unreadable (first 10 of 13 shown)" in table.out
    contacts = "\n".join([*CONTACTS.splitlines(), *CONTACTS.splitlines()[1:]]) + "\n"
    (workspace / "eight.csv").write_text(contacts, encoding="utf-8")
    inbound = cli("mapping", "preview", "zoho_contacts", "--sample", "eight.csv", "--limit", "2", "--json")
    assert (len(json.loads(inbound.out)["records"]), json.loads(inbound.out)["failing"]) == (2, 2)
    shown = cli("mapping", "preview", "zoho_contacts", "--sample", "eight.csv", "--limit", "2")
    assert "8 record(s) through zoho.Contacts: 6 map cleanly, 2 would fail (first 2 of 8 shown)" in shown.out


def test_preview_of_an_export_without_a_column_the_mapping_reads_says_it_is_read_as_empty(
    cli: Cli, workspace: Path
) -> None:
    sample = (REPO / "tests" / "fixtures" / "exports" / "zoho_books_payments.csv").read_text(encoding="utf-8")
    (workspace / "renamed.csv").write_text(sample.replace("CustomerID", "Customer ID", 1), encoding="utf-8")
    note = "columns the mapping zoho_books.payments reads are not in the file, so read as empty: 'CustomerID'"
    result = cli(
        "mapping", "preview", "zoho_books.payments", "--sample", "renamed.csv", "--limit", "1", "--json"
    )
    assert result.code == 0, result.err
    [shown] = json.loads(result.out)["notes"]
    assert shown.startswith(note)
    table = cli("mapping", "preview", "zoho_books.payments", "--sample", "renamed.csv", "--limit", "1")
    assert f"note: {note}" in table.out


def test_preview_of_an_outbound_map_writes_an_amount_in_the_customers_currency_as_a_push_would(
    cli: Cli, workspace: Path
) -> None:
    maps = workspace / "maps"
    maps.mkdir()
    (maps / "out.toml").write_text(
        'kind = "outbound"\nsource = "zoho.Accounts"\n[[fields]]\ntarget = "Balance_Text"\n'
        'source = "balance"\nconvert = [{ name = "format_decimal", style = "cn" }]\n',
        encoding="utf-8",
    )
    (workspace / "figures.json").write_text('[{"balance": "1234.50", "currency": "USD"}]', encoding="utf-8")
    result = cli(
        "mapping", "preview", "zoho.Accounts", "--sample", "figures.json", "--folder", "maps", "--json"
    )
    assert result.code == 0, result.err
    (field,) = json.loads(result.out)["records"][0]["fields"]
    assert field["mapped"] == "USD 1,234.50"


def test_the_shipped_outbound_map_previews_cleanly_over_the_figures_the_cli_gives_and_refuses_live_records(
    cli: Cli, workspace: Path
) -> None:
    assert cli("demo").code == 0
    figures = cli("customers", "figures", "SMEZJ00001", "--json")
    assert figures.code == 0, figures.err
    (workspace / "figures.json").write_text(figures.out, encoding="utf-8")
    result = cli("mapping", "preview", "zoho_accounts_outbound", "--sample", "figures.json", "--json")
    assert result.code == 0, result.err
    preview = json.loads(result.out)
    assert preview["failing"] == 0
    mapped = {field["target"]: field["mapped"] for field in preview["records"][0]["fields"]}
    assert mapped["Last_Payment_Date"] == "2026-03-06"
    live = cli("mapping", "preview", "zoho_accounts_outbound", "--live")
    assert live.code == 2
    assert "an outbound mapping maps the connector's figures, not the CRM's records" in live.err
    assert "connector customers figures ACCOUNT --json" in live.err


def test_preview_live_without_a_configured_backend_says_what_to_do(cli: Cli, workspace: Path) -> None:
    result = cli("mapping", "preview", "zoho_contacts", "--live")
    assert result.code == 1
    assert "backend 'zoho' has no live connection configured" in result.err
    assert "use --sample FILE" in result.err


def test_import_creates_skips_quarantines_and_holds_ambiguous_records_for_review(
    cli: Cli, workspace: Path
) -> None:
    first = cli("customers", "import", "zoho_contacts", "contacts.csv")
    assert first.code == 0, first.err
    assert "2 created, 1 quarantined, 1 review" in first.out
    again = cli("customers", "import", "zoho_contacts", "contacts.csv")
    assert "1 quarantined, 1 review, 2 unchanged" in again.out
    queue = cli("customers", "reviews")
    assert "the customer already has another zoho.Contacts record" in queue.out
    assert "1 record(s) waiting for review" in queue.out
    decided = cli("customers", "resolve", "1", "--new", "--actor", "finance")
    assert decided.out.strip() == "review #1: created → INDCN00003"
    shown = json.loads(cli("customers", "show", "INDCN00003", "--json").out)
    assert [event["kind"] for event in shown["history"]] == ["created", "bound"]
    assert shown["history"][1]["actor"] == "finance"
    assert "0 record(s) waiting for review" in cli("customers", "reviews").out


def test_a_review_decided_with_a_reason_keeps_it_in_the_audit_trail_and_a_dismissal_stays_listed(
    cli: Cli, workspace: Path
) -> None:
    assert cli("customers", "import", "zoho_contacts", "contacts.csv").code == 0
    decided = cli("customers", "resolve", "1", "--new", "--reason", "different 张伟", "--actor", "finance")
    assert decided.code == 0, decided.err
    history = json.loads(cli("customers", "show", "INDCN00003", "--json").out)["history"]
    assert history[-1]["kind"] == "bound"
    assert history[-1]["detail"].startswith("different 张伟; new customer by finance")
    assert "different 张伟" in cli("customers", "show", "INDCN00003", columns=200).out

    (workspace / "contacts.csv").write_text(CONTACTS.replace("4,Wang", "5,Wang"), encoding="utf-8")
    assert "1 review" in cli("customers", "import", "zoho_contacts", "contacts.csv").out
    dismissed = cli("customers", "resolve", "2", "--dismiss", "--reason", "a test record", "--actor", "ops")
    assert dismissed.out.strip() == "review #2: dismissed"
    assert "0 record(s) waiting for review" in cli("customers", "reviews").out
    listed = cli("customers", "reviews", "--all", columns=400)
    assert "0 record(s) waiting for review, 2 decided" in listed.out
    assert "a test record; dismissed by ops" in listed.out
    assert "dismissed by ops 20" in listed.out


def test_a_broken_mapping_edit_is_refused_and_the_last_valid_set_stays_in_force(
    cli: Cli, workspace: Path
) -> None:
    assert cli("customers", "import", "zoho_contacts", "contacts.csv").code == 0
    contacts = workspace / "mappings" / "zoho_contacts.toml"
    contacts.write_text(
        contacts.read_text(encoding="utf-8").replace('["email"]', '["emial"]'), encoding="utf-8"
    )
    check = cli("check-config")
    assert check.code == 1
    assert "unknown converter 'emial' — did you mean 'email'?" in check.err
    assert "stays in force until the files are fixed" in check.err
    run = cli("customers", "import", "zoho_contacts", "contacts.csv")
    assert run.code == 0
    assert "from the last valid set (the folder's files fail)" in run.err
    assert "2 unchanged" in run.out


def test_merge_and_split_are_recorded_in_the_audit_trail(cli: Cli, workspace: Path) -> None:
    cli("customers", "import", "zoho_contacts", "contacts.csv")
    merged = cli("customers", "merge", "INDCN00001", "INDCN00002", "--reason", "same person")
    assert merged.out.strip() == "INDCN00002 merged into INDCN00001: 1 source record(s) moved"
    split = cli("customers", "split", "zoho.Contacts", "2", "--reason", "not the same after all")
    assert split.code == 0, split.err
    assert split.out.strip() == "zoho.Contacts 2 is now customer INDCN00003"
    history = json.loads(cli("customers", "show", "INDCN00001", "--json").out)["history"]
    assert [event["kind"] for event in history] == [
        "created",
        "bound",
        "absorbed",
        "binding_moved_in",
        "split",
    ]
    assert "not the same after all" in history[-1]["detail"]


def test_show_names_the_source_record_and_the_other_customer_each_audit_event_concerns(
    cli: Cli, workspace: Path
) -> None:
    cli("customers", "import", "zoho_contacts", "contacts.csv")
    assert cli("customers", "merge", "INDCN00001", "INDCN00002").code == 0
    history = json.loads(cli("customers", "show", "INDCN00001", "--json").out)["history"]
    bound, absorbed, moved_in = history[1:]
    assert (bound["backend"], bound["external_id"], bound["related_account_no"]) == (
        "zoho.Contacts",
        "1",
        None,
    )
    assert (absorbed["kind"], absorbed["related_account_no"]) == ("absorbed", "INDCN00002")
    assert (moved_in["backend"], moved_in["external_id"]) == ("zoho.Contacts", "2")
    assert {"at", "kind", "actor", "detail"} <= bound.keys()
    trail = cli("customers", "show", "INDCN00001", columns=200).out.split("audit trail")[1]
    assert table_column(trail, 3) == "zoho.Contacts1zoho.Contacts1zoho.Contacts2"
    assert table_column(trail, 4) == "INDCN00002INDCN00002"


@pytest.mark.parametrize(
    ("before", "command"),
    [
        ((), ("merge", "INDCN00001", "INDCN00002")),
        (("merge", "INDCN00001", "INDCN00002"), ("unmerge", "INDCN00002")),
        (("merge", "INDCN00001", "INDCN00002"), ("split", "zoho.Contacts", "2")),
    ],
    ids=["merge", "unmerge", "split"],
)
def test_a_merge_unmerge_or_split_waits_for_a_running_import_saying_so_and_changes_nothing_meanwhile(
    cli: Cli, workspace: Path, before: tuple[str, ...], command: tuple[str, ...]
) -> None:
    assert cli("customers", "import", "zoho_contacts", "contacts.csv").code == 0
    if before:
        assert cli("customers", *before).code == 0
    shown_before = [cli("customers", "show", no, "--json").out for no in ("INDCN00001", "INDCN00002")]
    container = build_container(load_settings(), logging=False)
    try:
        with lease(container.sessions, IMPORTS):  # another process importing payments
            stopped = stopped_while_waiting(workspace, "customers", *command)
    finally:
        container.close()

    assert "imports is running elsewhere" in stopped.out
    assert "waiting for it to finish" in stopped.out
    assert stopped.code == 3, stopped.out
    assert "stopped: imports was running elsewhere" in stopped.out
    assert "Traceback" not in stopped.out
    shown = [cli("customers", "show", no, "--json").out for no in ("INDCN00001", "INDCN00002")]
    assert shown == shown_before  # nothing of it was done while the import ran
    assert cli("customers", *command).code == 0  # the import done: it goes through


def test_show_in_a_pipes_80_columns_folds_a_long_reason_onto_more_lines_and_cuts_nothing(
    cli: Cli, workspace: Path
) -> None:
    cli("customers", "import", "zoho_contacts", "contacts.csv")
    reason = (  # 50 characters without a space
        "两家公司在企业信用信息公示系统中登记的统一社会信用代码相同经财务部门与销售部门共同核实后确认为同一家客户"
    )
    assert cli("customers", "merge", "INDCN00001", "INDCN00002", "--reason", reason).code == 0
    shown = cli("customers", "show", "INDCN00001", columns=80)
    assert shown.code == 0, shown.err
    assert "…" not in shown.out
    assert reason in table_column(shown.out.split("audit trail")[1], 5)


def test_show_json_gives_the_credit_limit_as_money_and_times_in_iso_8601_with_their_offset(
    cli: Cli, workspace: Path
) -> None:
    cli("demo")
    cli("customers", "import", "zoho_contacts", "contacts.csv")
    limit = json.loads(cli("customers", "show", "KASH00001", "--json").out)["credit_limit"]
    assert limit == {"amount": "500000.00", "currency": "CNY", "minor": 50000000}
    shown = json.loads(cli("customers", "show", "INDCN00001", "--json").out)
    times = [b["synced"] for b in shown["bindings"]] + [e["at"] for e in shown["history"]]
    assert times
    for moment in times:
        parsed = datetime.fromisoformat(moment)
        assert ("T" in moment, parsed.utcoffset() is not None) == (True, True), moment


def test_classify_sets_value_tiers_from_the_ledger(cli: Cli, workspace: Path) -> None:
    cli("customers", "import", "zoho_contacts", "contacts.csv")
    result = cli("customers", "classify", "--as-of", "2026-11-30")
    assert result.out.strip() == "value tiers as of 2026-11-30: 2 changed"
    assert json.loads(cli("customers", "show", "INDCN00001", "--json").out)["value_tier"] == "low"
    bad = cli("customers", "classify", "--as-of", "2026-13-01")
    assert (bad.code, "'2026-13-01' is not a date (YYYY-MM-DD)" in bad.err) == (2, True)


def test_a_survivors_balance_shows_the_merged_customers_and_owes_what_the_crm_is_told(
    cli: Cli, workspace: Path
) -> None:
    cli("customers", "import", "zoho_contacts", "contacts.csv")
    container = build_container(load_settings(), logging=False)
    try:
        with unit_of_work(container.sessions) as session:
            Ledger(session).post(invoice("INV-A", "INDCN00002", "100.00"))
            Ledger(session).post(invoice("INV-B", "INDCN00001", "20.00"))
    finally:
        container.close()
    assert cli("customers", "merge", "INDCN00001", "INDCN00002", "--reason", "same person").code == 0

    shown = json.loads(cli("ledger", "balance", "INDCN00001", "--json").out)

    assert [line["balance"]["amount"] for line in shown["balances"]] == ["20.00"]
    [merged] = shown["merged"]
    assert (merged["account_no"], merged["balances"][0]["balance"]["amount"]) == ("INDCN00002", "100.00")
    assert [money["amount"] for money in shown["net_receivable"]] == ["120.00"]
    figures = json.loads(cli("customers", "figures", "INDCN00001", "--json").out)
    assert "120.00" in json.dumps(figures)
    assert "net receivable, with merged" in cli("ledger", "balance", "INDCN00001").out
    apart = cli("customers", "unmerge", "INDCN00002", "--reason", "two people after all")
    assert apart.out.strip() == "INDCN00002 is a customer of its own again (active)"
    again = json.loads(cli("ledger", "balance", "INDCN00001", "--json").out)
    assert (again["merged"], [m["amount"] for m in again["net_receivable"]]) == ([], ["20.00"])


def test_list_finds_customers_by_name_e_mail_or_account_number_and_says_where_they_come_from(
    cli: Cli, workspace: Path
) -> None:
    cli("customers", "import", "zoho_contacts", "contacts.csv")
    every = json.loads(cli("customers", "list", "--json").out)
    assert [c["account_no"] for c in every] == sorted(c["account_no"] for c in every)
    [wang] = json.loads(cli("customers", "list", "--search", "WANG@ACME", "--json").out)
    assert (wang["name"], wang["sources"]) == ("王小明", ["zoho.Contacts"])
    shown = cli("customers", "list", "--search", "王小").out
    assert shown.splitlines()[0].startswith(f"{wang['account_no']}  王小明  ")
    assert shown.splitlines()[-1] == "1 customer(s)"
    assert cli("customers", "list", "--status", "gone").code == 2
    [by_phone] = json.loads(cli("customers", "list", "--search", "138-0013-8000", "--json").out)
    assert by_phone["account_no"] == wang["account_no"]  # stored +8613800138000, found as dialled
    others = [c["account_no"] for c in every if c["account_no"] != wang["account_no"]]
    assert cli("customers", "merge", others[0], wang["account_no"], "--reason", "same person").code == 0
    found = json.loads(cli("customers", "list", "--search", "王小明", "--json").out)
    [merged] = [c for c in found if c["account_no"] == wang["account_no"]]
    assert (merged["status"], merged["merged_into"]) == ("merged", others[0])
    assert sorted(c["account_no"] for c in found) == sorted([wang["account_no"], others[0]])  # its record
    assert f"merged into {others[0]}" in cli("customers", "list", "--search", "王小明").out


def customers_bound(workspace: Path) -> int:
    return rows_in_workspace_table(workspace, "customer_bindings")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_a_customers_import_told_to_stop_stops_between_two_batches_keeps_them_and_exits_3(
    cli: Cli, workspace: Path, stop: signal.Signals
) -> None:
    rows = [f"{n},Person {n},p{n}@example{n}.com,,China,2026-11-01T10:00:00+08:00" for n in range(1, 10_001)]
    (workspace / "many.csv").write_text("\n".join([CONTACTS.splitlines()[0], *rows]) + "\n", encoding="utf-8")
    importing = subprocess.Popen(
        [sys.executable, "-m", "connector", "customers", "import", "zoho_contacts", "many.csv"],
        cwd=workspace,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while customers_bound(workspace) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    importing.send_signal(stop)
    said, complained = importing.communicate(timeout=30)

    assert importing.returncode == 3, complained
    assert "Traceback" not in complained
    kept = customers_bound(workspace)
    assert 0 < kept < 10_000  # between two batches: some kept, not the whole file
    assert said.startswith(f"many.csv: {kept} created (mapping set ")
    assert "many.csv: stopped early — the records applied so far stay; import it again to go on" in complained
    runs = json.loads(cli("runs", "--json").out)
    assert runs[0]["status"] == "failed"
    assert "stopped" in runs[0]["error"]

    again = cli("customers", "import", "zoho_contacts", "many.csv")
    assert again.code == 0, again.err
    assert f"many.csv: {10_000 - kept} created, {kept} unchanged" in again.out


def test_a_source_path_no_record_holds_is_named_by_the_preview_and_the_import_with_the_path_they_hold(
    cli: Cli, workspace: Path
) -> None:
    maps = workspace / "mappings"
    shipped = maps / "webhook_customers.toml"
    shipped.write_text(
        shipped.read_text(encoding="utf-8").replace('"data.type"', '"data.typ"'), encoding="utf-8"
    )
    record = {
        "id": "w1",
        "name": "Big Key GmbH",
        "type": "KA",
        "currency": "EUR",
        "address": {"city": "Köln"},
    }
    payload = {"type": "customer.updated", "timestamp": "2026-03-01T00:00:00Z", "data": record}
    (workspace / "hooks.json").write_text(json.dumps([payload]), encoding="utf-8")
    hint = "'data.typ' (customer_type) — did you mean 'data.type'?"
    assert cli("mapping", "check").code == 0

    preview = cli("mapping", "preview", "webhook_customers", "--sample", "hooks.json", "--json")
    assert preview.code == 0, preview.err
    [note] = json.loads(preview.out)["notes"]
    assert "reads are in none of the 1 record(s), so read as empty: " in note
    assert hint in note
    table = cli("mapping", "preview", "webhook_customers", "--sample", "hooks.json")
    assert hint in " ".join(table.out.split())
    imported = cli("customers", "import", "webhook_customers", "hooks.json")
    assert imported.code == 0, imported.err
    assert hint in " ".join(imported.err.split())


def test_reviews_show_the_records_phone_company_region_and_rule_and_each_candidates_contact_data(
    cli: Cli, workspace: Path
) -> None:
    twins = "id,Full_Name,Email,Phone,Account_Name.name,Mailing_Country,Modified_Time\n" + (
        "1,王小明,wang@acme.cn,138 0013 8000,,China,2026-11-01T10:00:00+08:00\n"
        "4,Wang Xiaoming,WANG@acme.cn,139 0000 1111,明远贸易,China,2026-11-01T10:00:00+08:00\n"
    )
    (workspace / "twins.csv").write_text(twins, encoding="utf-8")
    assert "1 review" in cli("customers", "import", "zoho_contacts", "twins.csv").out
    [customer] = json.loads(cli("customers", "list", "--json").out)

    [review] = json.loads(cli("customers", "reviews", "--json").out)
    shown = cli("customers", "reviews").out

    assert {key: review[key] for key in ("name", "email", "phone", "company", "region", "rule")} == {
        "name": "Wang Xiaoming",
        "email": "wang@acme.cn",
        "phone": "+8613900001111",
        "company": "明远贸易",
        "region": "CN",
        "rule": "email",
    }
    assert review["candidates"] == [
        {
            "account_no": customer["account_no"],
            "name": "王小明",
            "email": "wang@acme.cn",
            "phone": "+8613800138000",
            "region": "CN",
        }
    ]
    for text in ("+8613900001111", "明远贸易", "email", "王小明", "+8613800138000", customer["account_no"]):
        assert text in shown


def test_an_unmerge_says_which_receipts_naming_the_unmerged_customer_it_posted_again_to_it(
    cli: Cli, workspace: Path
) -> None:
    cli("customers", "import", "zoho_contacts", "contacts.csv")
    assert cli("customers", "merge", "INDCN00001", "INDCN00002", "--reason", "same person").code == 0
    payments = workspace / "payments.csv"
    payments.write_text(
        "Payment ID,Date,Contact,Invoice Number,Reference,Amount,Currency,Bank Account,Status\n"
        "00000000-0000-4000-8000-000000000001,2 Mar 2026,Li Wei,,acct INDCN00002,50.00,CNY,Cheque,"
        "AUTHORISED\n",
        encoding="utf-8",
    )
    assert "1 payments posted" in cli("import", "payments.csv").out

    apart = cli("customers", "unmerge", "INDCN00002", "--reason", "two people after all")

    assert apart.code == 0, apart.err
    said = apart.out.splitlines()
    assert said[0] == "INDCN00002 is a customer of its own again (active)"
    assert said[1].startswith("receipt 00000000-0000-4000-8000-000000000001 50.00 CNY named account number ")
    assert said[1].endswith("on INDCN00001 reversed by entry 2, posted again to INDCN00002 as entry 3")
    shown = json.loads(cli("ledger", "balance", "INDCN00002", "--json").out)
    assert [line["balance"]["amount"] for line in shown["balances"]] == ["-50.00"]
    assert cli("ledger", "verify").code == 0
