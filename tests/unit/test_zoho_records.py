"""The Zoho reader's contract: a walk by instants (no wall, no shift), field groups, inclusive cursors,
deletions."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from adapters.zoho.client import ZohoApi, ZohoApiError
from adapters.zoho.field_cache import FieldMetadata, MemoryFieldStore
from adapters.zoho.push import ZohoStatusSink
from adapters.zoho.records import ZohoRecords, field_groups
from connector.errors import PermanentRemoteError, TransientRemoteError
from connector.ports import FieldUpdate, PushResult
from tests.unit.zoho_fakes import fake_api

IST = timezone(timedelta(hours=5, minutes=30))
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=IST)


def contact(n: int, second: int | None = None) -> dict[str, object]:
    return {
        "id": f"57257670000{n:08d}",
        "Modified_Time": (T0 + timedelta(seconds=n if second is None else second)).isoformat(),
        "Email": f"c{n}@x.cn",
    }


def sink(api: ZohoApi) -> ZohoStatusSink:
    return ZohoStatusSink(api, FieldMetadata(api, MemoryFieldStore(), "zoho:test", timedelta(hours=24)))


def error(code: str) -> httpx.Response:
    return httpx.Response(400, json={"code": code, "details": {}, "message": "", "status": "error"})


class FakeListing:
    """Serves its records 200 a page by Modified_Time with Zoho's rules: If-Modified-Since inclusive,
    `page` offsets only up to 2,000 records, page tokens serving at most `token_limit` records."""

    def __init__(self, records: list[dict[str, object]], token_limit: int = 100_000) -> None:
        self.records = records
        self.token_limit = token_limit
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        params = request.url.params
        since = request.headers.get("If-Modified-Since")
        rows = sorted(
            (
                r
                for r in self.records
                if since is None
                or datetime.fromisoformat(str(r["Modified_Time"])) >= datetime.fromisoformat(since)
            ),
            key=lambda r: (datetime.fromisoformat(str(r["Modified_Time"])), str(r["id"])),
        )
        if "page_token" in params:
            start = int(params["page_token"])
            if start >= self.token_limit:
                return error("PAGINATION_LIMIT_EXCEEDED")
        else:
            start = (int(params.get("page", "1")) - 1) * 200
            if start >= 2000:
                return error("DISCRETE_PAGINATION_LIMIT_EXCEEDED")
        page = rows[start : start + 200]
        if not page:
            return httpx.Response(304 if since else 204)
        more = start + 200 < len(rows)
        info = {
            "more_records": more,
            "next_page_token": str(start + 200) if more else None,
            "count": len(page),
        }
        return httpx.Response(200, json={"data": page, "info": info})


def read_all(
    records: ZohoRecords, since: datetime | None = None, seen: frozenset[str] = frozenset()
) -> list[str]:
    return [c.id for page in records.changes("Contacts", ["Email"], since, seen) for c in page]


def ids(*numbers: int) -> list[str]:
    return [str(contact(n)["id"]) for n in numbers]


def test_each_page_is_asked_for_from_the_last_instant_read_so_no_wall_is_ever_met() -> None:
    listing = FakeListing([contact(n) for n in range(4_500)])
    api, _ = fake_api(listing)
    assert read_all(ZohoRecords(api)) == ids(*range(4_500))  # each once, in order
    pages = [dict(r.url.params) for r in listing.requests]
    assert {(p.get("page"), p["per_page"], p["sort_by"], p["sort_order"]) for p in pages} == {
        ("1", "200", "Modified_Time", "asc")
    }
    assert pages[0]["fields"] == "Modified_Time,Email"
    since = [r.headers.get("If-Modified-Since") for r in listing.requests]
    assert since[:3] == [None, "2026-01-01T09:03:19+05:30", "2026-01-01T09:06:38+05:30"]


def test_a_record_edited_while_the_listing_runs_hides_no_other_record() -> None:
    records = [contact(n) for n in range(600)]
    listing = FakeListing(records)

    def edit_after_the_first_page(request: httpx.Request) -> httpx.Response:
        answer = listing(request)
        if len(listing.requests) == 1:  # someone edits a record the reader has just read
            records[5] = contact(5, second=3_600)
        return answer

    api, _ = fake_api(edit_after_the_first_page)
    read = read_all(ZohoRecords(api))
    assert sorted(set(read)) == ids(*range(600))
    assert read.count(ids(5)[0]) == 2  # read again with its edit


def test_a_page_all_at_one_instant_is_followed_through_its_page_token() -> None:
    crowd = [contact(n, second=1) for n in range(1, 451)]  # an import wrote 450 records in one second
    listing = FakeListing([contact(0), *crowd, *(contact(n) for n in range(451, 700))])
    api, _ = fake_api(listing)
    assert read_all(ZohoRecords(api)) == ids(*range(700))
    assert any("page_token" in r.url.params for r in listing.requests)


def test_an_expired_page_token_asks_again_from_its_instant() -> None:
    listing = FakeListing([contact(n, second=0) for n in range(700)])
    expired = [False]

    def expire_the_second_token(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("page_token") == "400" and not expired[0]:
            expired[0] = True
            return error("EXPIRED_VALUE")
        return listing(request)

    api, _ = fake_api(expire_the_second_token)
    assert sorted(read_all(ZohoRecords(api))) == ids(*range(700))  # no gap, no repeat


def test_more_records_at_one_instant_than_a_token_serves_is_an_error_that_says_so_not_a_loop() -> None:
    listing = FakeListing([contact(n, second=0) for n in range(1_000)], token_limit=200)
    api, _ = fake_api(listing)
    with pytest.raises(PermanentRemoteError, match=r"more records changed at .* than one listing serves"):
        read_all(ZohoRecords(api))


def test_records_at_the_cursor_instant_already_seen_are_skipped() -> None:
    listing = FakeListing([contact(n) for n in range(10)])
    api, _ = fake_api(listing)
    since = T0 + timedelta(seconds=4)
    assert read_all(ZohoRecords(api), since, frozenset(ids(4))) == ids(*range(5, 10))
    assert listing.requests[0].headers["If-Modified-Since"] == "2026-01-01T09:00:04+05:30"


def test_a_later_edit_of_a_record_seen_at_the_cursor_instant_is_read() -> None:
    listing = FakeListing([contact(4, second=3_600), *(contact(n) for n in range(5, 8))])
    api, _ = fake_api(listing)
    since = T0 + timedelta(seconds=4)
    assert read_all(ZohoRecords(api), since, frozenset(ids(4))) == ids(5, 6, 7, 4)


def test_nothing_newer_is_an_empty_listing() -> None:
    api, _ = fake_api(FakeListing([contact(n) for n in range(3)]))
    assert read_all(ZohoRecords(api), T0 + timedelta(days=1)) == []


def test_offsets_are_compared_as_instants_not_as_text() -> None:
    utc_row = {"id": "1", "Modified_Time": "2026-01-01T03:30:00+00:00"}
    api, _ = fake_api(
        lambda r: httpx.Response(200, json={"data": [utc_row], "info": {"more_records": False}})
    )
    [[change]] = list(ZohoRecords(api).changes("Contacts", [], None, frozenset()))
    assert change.modified_at == datetime(2026, 1, 1, 9, 0, tzinfo=IST)
    assert change.modified_at.astimezone(UTC).hour == 3


def test_more_than_50_fields_are_read_in_groups_and_merged_by_id() -> None:
    wanted = [f"Field_{n}" for n in range(120)]
    groups = field_groups(wanted)
    assert [len(g) for g in groups] == [50, 50, 21]
    assert groups[0][0] == "Modified_Time"

    def handler(request: httpx.Request) -> httpx.Response:
        fields = request.url.params["fields"].split(",")
        rows = [{"id": "7", **{f: f.lower() for f in fields}, "Modified_Time": T0.isoformat()}]
        return httpx.Response(200, json={"data": rows, "info": {"more_records": False}})

    api, _ = fake_api(handler)
    [[change]] = list(ZohoRecords(api).changes("Contacts", wanted, None, frozenset()))
    assert all(change.raw[f] == f.lower() for f in wanted)


def test_a_page_token_error_other_than_expiry_or_limit_is_raised() -> None:
    body = {"code": "TOKEN_BOUND_DATA_MISMATCH", "details": {}, "message": "", "status": "error"}
    api, _ = fake_api(lambda r: httpx.Response(400, json=body))
    with pytest.raises(ZohoApiError, match="TOKEN_BOUND_DATA_MISMATCH"):
        read_all(ZohoRecords(api))


def deleted_page(items: Sequence[Mapping[str, object]], request: httpx.Request) -> httpx.Response:
    """A page of the listing of deletions, by Zoho's offsets: (page - 1) × per_page."""
    page, per_page = int(request.url.params["page"]), int(request.url.params["per_page"])
    start = (page - 1) * per_page
    chunk = items[start : start + per_page]
    return httpx.Response(200, json={"data": chunk, "info": {"more_records": start + per_page < len(items)}})


def test_deletions_are_read_page_by_page_with_their_instants() -> None:
    items = [
        {"id": str(n), "deleted_time": "2026-02-01T10:00:00+05:30", "type": "recycle"} for n in range(250)
    ]
    api, meter = fake_api(lambda request: deleted_page(items, request))

    pages = list(ZohoRecords(api).deletions("Contacts", None))

    assert [len(p) for p in pages] == [200, 50]
    assert pages[0][0].deleted_at == datetime(2026, 2, 1, 4, 30, tzinfo=UTC)
    # a deleted-records call costs 2 credits; the second page starts on the first one's last entry
    # (page 2 of 199), which shows that nothing left the listing meanwhile: no reading again
    assert meter.spent_by_me == 4


def test_each_page_of_deletions_starts_among_the_entries_read_so_that_a_gap_shows() -> None:
    items = [
        {"id": str(n), "deleted_time": "2026-02-01T10:00:00+05:30", "type": "recycle"} for n in range(5_000)
    ]
    asked: list[tuple[int, int]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append((int(request.url.params["page"]), int(request.url.params["per_page"])))
        return deleted_page(items, request)

    api, _ = fake_api(handler)

    read = [deletion.id for page in ZohoRecords(api).deletions("Contacts", None) for deletion in page]

    assert read == [str(n) for n in range(5_000)]
    windows = [((page - 1) * size, page * size) for page, size in asked]
    assert all(start < end for (_, end), (start, _) in itertools.pairwise(windows))
    assert asked[:3] == [(1, 200), (2, 199), (3, 198)]
    assert len(asked) <= 28  # 25 pages of 200, one call more in ten at most


def test_a_listing_of_deletions_that_shows_a_gap_each_time_it_is_read_again_fails() -> None:
    items = [
        {"id": str(n), "deleted_time": "2026-02-01T10:00:00+05:30", "type": "recycle"} for n in range(250)
    ]
    readings = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal readings
        if request.url.params["page"] == "1":
            readings += 1
            return deleted_page(items, request)
        return deleted_page(items[2:], request)  # two entries restored while each reading pages

    api, _ = fake_api(handler)
    read: list[str] = []
    with pytest.raises(TransientRemoteError, match="left the listing while it was read, 4 times"):
        for page in ZohoRecords(api).deletions("Contacts", None):
            read += [deletion.id for deletion in page]
    assert readings == 4
    assert read == [str(n) for n in range(250) if n != 200]  # applied; the cursor stays


def test_entries_a_reading_passed_over_come_from_the_next_reading() -> None:
    items = [
        {"id": str(n), "deleted_time": "2026-02-01T10:00:00+05:30", "type": "recycle"} for n in range(250)
    ]
    readings = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal readings
        if request.url.params["page"] == "1":
            readings += 1
            return deleted_page(items, request)
        return deleted_page(items[2:] if readings == 1 else items, request)

    api, meter = fake_api(handler)

    pages = [[deletion.id for deletion in page] for page in ZohoRecords(api).deletions("Contacts", None)]

    assert pages[-1] == ["200"]  # passed over: page 2 began past it
    assert sorted(map(int, itertools.chain(*pages))) == list(range(250))
    assert meter.spent_by_me == 8  # two readings of two pages


def test_a_partial_update_reports_each_record_with_zohos_code_and_field() -> None:
    answer = {
        "data": [
            {"code": "SUCCESS", "details": {"id": "1"}, "message": "record updated", "status": "success"},
            {
                "code": "INVALID_DATA",
                "details": {"api_name": "Outstanding_Balance"},
                "message": "invalid data",
                "status": "error",
            },
            {"code": "RECORD_LOCKED", "details": {}, "message": "locked", "status": "error"},
        ]
    }
    sent: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(207, json=answer)

    api, meter = fake_api(handler)
    updates = [FieldUpdate(str(n), {"Outstanding_Balance": Decimal("1.50")}) for n in (1, 2, 3)]
    results = sink(api).push("Accounts", updates)
    assert results == [
        PushResult("1", True, "SUCCESS"),
        PushResult("2", False, "INVALID_DATA", "Outstanding_Balance", "invalid data", for_field=True),
        PushResult("3", False, "RECORD_LOCKED", None, "locked"),
    ]
    assert b'"trigger":[]' in sent[0]
    assert b'"Outstanding_Balance":1.50' in sent[0]
    assert meter.spent_by_me == 1


def test_an_update_whose_every_record_is_refused_reports_each_records_own_code_and_field() -> None:
    answer = {
        "data": [
            {"code": "RECORD_LOCKED", "details": {}, "message": "locked", "status": "error"},
            {
                "code": "INVALID_DATA",
                "details": {"api_name": "Credit_Status"},
                "message": "invalid data",
                "status": "error",
            },
        ]
    }
    api, _ = fake_api(lambda request: httpx.Response(400, json=answer))
    updates = [FieldUpdate(str(n), {"Credit_Status": "HOLD"}) for n in (1, 2)]
    assert sink(api).push("Accounts", updates) == [
        PushResult("1", False, "RECORD_LOCKED", None, "locked"),
        PushResult("2", False, "INVALID_DATA", "Credit_Status", "invalid data", for_field=True),
    ]


def test_a_refused_record_keeps_zohos_details_and_an_invalid_id_says_the_record_may_be_deleted() -> None:
    def refused(details: dict[str, object], message: str = "invalid data") -> dict[str, object]:
        return {"code": "INVALID_DATA", "details": details, "message": message, "status": "error"}

    answer = {
        "data": [
            refused(
                {"maximum_length": 5, "api_name": "Payment_Terms", "json_path": "$.data[0].Payment_Terms"}
            ),
            refused({"expected_data_type": "double", "api_name": "Outstanding_Balance"}),
            refused({"api_name": "id", "json_path": "$.data[2].id"}, "the id given seems to be invalid"),
            {
                "code": "DUPLICATE_DATA",
                "details": {"api_name": "Email", "duplicate_record": {"Owner": {"name": "Li Wei"}}},
                "message": "duplicate data",
                "status": "error",
            },
        ]
    }
    api, _ = fake_api(lambda request: httpx.Response(400, json=answer))
    updates = [FieldUpdate(str(n), {"Payment_Terms": "Net 30"}) for n in (1, 2, 3, 4)]
    assert [r.message for r in sink(api).push("Accounts", updates)] == [
        "invalid data (maximum_length 5)",
        "invalid data (expected_data_type double)",
        "the id given seems to be invalid: the record may have been deleted in the CRM; the next pull "
        "retires it",
        "duplicate data (duplicate_record)",
    ]


def test_a_refused_update_call_without_a_result_per_record_is_an_error_of_the_call() -> None:
    answer = {"code": "INVALID_MODULE", "details": {}, "message": "the module name given seems to be invalid"}
    api, _ = fake_api(lambda request: httpx.Response(400, json=answer))
    with pytest.raises(ZohoApiError, match="INVALID_MODULE"):
        sink(api).push("Acounts", [FieldUpdate("1", {"Credit_Status": "HOLD"})])
