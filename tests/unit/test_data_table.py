"""`DataTable`: a table that never hides data at any terminal width."""

from __future__ import annotations

import io

from rich.console import Console

from connector.cli.output import DataTable

LONG_ID = "https://crm-connector.finance.eu-west-1.internal.example-corp.com/zoho/notify"


def rendered(table: DataTable, width: int) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, soft_wrap=True).print(table)  # as `out` prints
    return buffer.getvalue()


def column(text: str, number: int) -> list[str]:
    """The cells of a rendered table's column `number` (1-based), line by line."""
    return [line.split("│")[number].strip() for line in text.splitlines() if line.count("│") == 3]


def test_a_whole_cell_wider_than_the_terminal_is_printed_whole_and_no_column_is_dropped() -> None:
    table = DataTable("url", "events", whole=("url",))
    table.add_row(LONG_ID, "Contacts.all Accounts.all")

    text = rendered(table, 40)

    assert LONG_ID in text
    assert "events" in text
    assert "".join(column(text, 2)) == "Contacts.allAccounts.all"  # folded onto more lines


def test_free_text_folds_onto_more_lines_and_is_never_cut() -> None:
    reason = "同一集团公司的两个法人实体经财务部确认合并处理参见审批单号二零二六年第一二三四五六号文件"
    table = DataTable("id", "reason", whole=("id",))
    table.add_row("4876876000000624001", reason)

    text = rendered(table, 40)

    assert "4876876000000624001" in text
    assert "…" not in text
    assert "".join(column(text, 2)) == reason
