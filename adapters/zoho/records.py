"""Reading Zoho CRM records: changed since a cursor, by ids, deleted — Zoho's paging rules honoured.

Listings send `fields` (Zoho requires it; at most 50 names per call — a mapping that needs more is
read in groups, the extra groups by id, and merged), 200 records per page, sorted by Modified_Time
ascending, each page asked for from the last instant read (If-Modified-Since is inclusive: records
already seen at that instant are skipped). `page` offsets would only reach the first 2,000 records
and shift under concurrent edits: a walk by instants needs neither, and follows a `page_token` only
through the records of one instant. Deleted records are listed by offset only, newest first: each page
starts inside the one before it, and a listing whose pages show a gap (entries left it meanwhile) is
read again for what they hid. Datetimes carry the API
user's offset (+05:30 …) and are compared as instants.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from adapters.zoho.client import ZohoApi, ZohoApiError, ZohoResponse
from adapters.zoho.limits import DELETED_CALL, listing_cost
from connector.errors import PermanentRemoteError, TransientRemoteError
from connector.ports import Changed, Deletion

MAX_FIELDS = 50
MAX_IDS = 100  # ids per by-id read
MODIFIED = "Modified_Time"
RESTART_CODES = frozenset({"PAGINATION_LIMIT_EXCEEDED", "EXPIRED_VALUE"})
DELETION_PASSES = 4  # readings of one listing of deletions, the first included
DELETED_PAGE = 200  # Zoho's most entries per page of deletions (they are small: always the most)


def field_groups(fields: Sequence[str]) -> list[tuple[str, ...]]:
    """`fields` in groups of ≤ 50 names; the first always carries Modified_Time (the listing's order)."""
    wanted = [name for name in dict.fromkeys(fields) if name not in ("id", MODIFIED)]
    first = [MODIFIED, *wanted[: MAX_FIELDS - 1]]
    rest = wanted[MAX_FIELDS - 1 :]
    return [tuple(first), *(tuple(rest[i : i + MAX_FIELDS]) for i in range(0, len(rest), MAX_FIELDS))]


def _next_window(end: int) -> tuple[int, int]:
    """The page and per_page of the next page of the deletions listing, paged by offset only (offset =
    (page - 1) × per_page), once its entries before `end` are read: the page reaching furthest that still
    starts among them (page 2 of 199 after a first page of 200, then page 3 of 198 …), so that it shows an
    entry already read unless entries left the listing meanwhile. It costs about one call more in ten;
    reading the listing again would cost as many calls as it has pages."""
    page, per_page, reach = end // DELETED_PAGE + 1, DELETED_PAGE, end  # unused past a full first page
    for size in range(1, DELETED_PAGE + 1):
        before = (end - 1) // size  # whole pages of `size` before the last entry read
        if before and (before + 1) * size > reach:
            page, per_page, reach = before + 1, size, (before + 1) * size
    return page, per_page


def http_date(moment: datetime) -> str:
    """If-Modified-Since as Zoho writes it: ISO 8601 with an offset, to the second. Zoho stamps whole
    seconds: an instant within a second (a cursor just past its instant) asks from the next one."""
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.isoformat(timespec="seconds")


def instant(raw: Any, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        raise PermanentRemoteError(f"{what}: {raw!r} is not an ISO 8601 datetime") from None
    if moment.tzinfo is None:
        raise PermanentRemoteError(f"{what}: {raw!r} has no UTC offset")
    return moment


class ZohoRecords:
    """`ContactSource` and `RecordSource` over the Zoho CRM API of one org."""

    def __init__(self, api: ZohoApi, page_size: int = 200) -> None:
        self.api = api
        self.page_size = page_size

    # -- changes -----------------------------------------------------------------------------------

    def changes(
        self, stream: str, fields: Sequence[str], since: datetime | None, seen_at_since: frozenset[str]
    ) -> Iterator[list[Changed]]:
        """Records modified at or after `since`, oldest first, those of `seen_at_since` at `since` left out.

        A keyset walk: each page is asked for anew from the last instant read (If-Modified-Since is
        inclusive; the records already read at that instant are left out), so a record edited while the
        listing runs cannot shift the others past the reader, as page offsets would (an edited record
        moves to the end, and the one at the next page's start would be skipped for good). A page all
        at one instant is followed through its `page_token`; a token that expires, or runs out after
        100,000 records, is replaced by asking again from that instant.
        """
        groups = field_groups(fields)
        at, seen = since, set(seen_at_since)
        token: str | None = None
        progressed = True  # since the listing last started again
        while True:
            try:
                response = self._list(stream, groups[0], at, token)
            except ZohoApiError as exc:
                if token is None or exc.code not in RESTART_CODES:
                    raise
                if not progressed:  # asked again, and nothing new came: more at one instant than it serves
                    instant_read = at.isoformat() if at else "one instant"
                    raise PermanentRemoteError(
                        f"zoho: list {stream}: more records changed at {instant_read} than one listing "
                        f"serves ({exc.code}, after 100,000): a listing by Modified_Time cannot go past that "
                        "instant, and the connector does not read Zoho's bulk API; the module's later "
                        "changes wait until this is resolved with Zoho",
                        status=exc.status,
                        code=exc.code,
                    ) from exc
                token, progressed = None, False  # ask again from `at`: what was read there is left out
                continue
            if response.body is None:  # 204 nothing at all, 304 nothing newer
                return
            rows = [self._changed(stream, row) for row in response.data]
            page = [c for c in rows if c.id not in seen or c.modified_at != at]
            for extra in groups[1:]:
                page = self._merged(stream, extra, page)
            if page:
                progressed = True
                yield page
            if not rows or not response.info.get("more_records"):
                return
            last = max(change.modified_at for change in rows)
            if at is None or last > at:
                at, seen, token = last, {c.id for c in rows if c.modified_at == last}, None
            else:  # the whole page at one instant: on through its page token
                seen.update(change.id for change in rows)
                token = response.info.get("next_page_token")
                if not token:
                    raise PermanentRemoteError(f"zoho: list {stream}: more records but no next_page_token")

    def _list(
        self, stream: str, fields: tuple[str, ...], since: datetime | None, token: str | None
    ) -> ZohoResponse:
        query = {
            "fields": ",".join(fields),
            "per_page": str(self.page_size),
            "sort_by": MODIFIED,
            "sort_order": "asc",
            **({"page_token": token} if token else {"page": "1"}),
        }
        return self.api.call(
            "GET",
            f"/{stream}",
            params=query,
            headers={"If-Modified-Since": http_date(since)} if since is not None else None,
            cost=listing_cost(sorted_listing=True),
            what=f"zoho: list {stream} (from {http_date(since) if since else 'the start'})",
        )

    def _changed(self, stream: str, row: dict[str, Any]) -> Changed:
        record_id = row.get("id")
        if not isinstance(record_id, str) or not record_id:
            raise PermanentRemoteError(f"zoho: a {stream} record without an id: {sorted(row)}")
        return Changed(record_id, instant(row.get(MODIFIED), f"zoho {stream} {record_id} {MODIFIED}"), row)

    def _merged(self, stream: str, fields: tuple[str, ...], page: list[Changed]) -> list[Changed]:
        extra: dict[str, dict[str, Any]] = {}
        for start in range(0, len(page), MAX_IDS):
            ids = [change.id for change in page[start : start + MAX_IDS]]
            for row in self._read_ids(stream, fields, ids).data:
                extra[str(row.get("id"))] = row
        return [Changed(c.id, c.modified_at, {**c.raw, **extra.get(c.id, {})}) for c in page]

    # -- by ids ------------------------------------------------------------------------------------

    def _read_ids(self, stream: str, fields: Sequence[str], ids: Sequence[str]) -> ZohoResponse:
        return self.api.call(
            "GET",
            f"/{stream}",
            params={"ids": ",".join(ids), "fields": ",".join(fields)},
            what=f"zoho: read {len(ids)} {stream} by id",
        )

    def by_ids(self, stream: str, fields: Sequence[str], ids: Sequence[str]) -> list[Changed]:
        groups = field_groups(fields)
        found: list[Changed] = []
        for start in range(0, len(ids), MAX_IDS):
            chunk = list(dict.fromkeys(ids[start : start + MAX_IDS]))
            page = [self._changed(stream, row) for row in self._read_ids(stream, groups[0], chunk).data]
            for extra in groups[1:]:
                page = self._merged(stream, extra, page)
            found.extend(page)
        return found

    # -- deletions ---------------------------------------------------------------------------------

    def deletions(self, stream: str, since: datetime | None) -> Iterator[list[Deletion]]:
        """Records deleted at or after `since`, page by page, newest first as Zoho lists them.

        Zoho pages this listing by offset only: an entry leaving it while it is paged (a record restored
        from the recycle bin) moves the older ones up, and one would fall between two pages while the
        reader's cursor moves past it. Each page after the first therefore starts inside the entries read
        before it (`_next_window`) and must show one of them; a page that shows none followed entries that
        left, and the listing is read again from `since`, what an earlier reading missed coming as one more
        page, until a reading shows no gap. Entries newer than the first reading's are left to the next
        listing (new ones only push the others down). Listings still showing gaps after `DELETION_PASSES`
        readings fail, so that the cursor stays where it was.
        """
        read: set[str] = set()
        newest: datetime | None = None
        for reading in range(DELETION_PASSES):
            gap, missed = False, []
            for page, joined in self._deleted_pages(stream, since):
                gap = gap or not joined
                fresh = [deletion for deletion in page if deletion.id not in read]  # pages overlap
                read.update(deletion.id for deletion in fresh)
                if reading > 0:
                    missed += [d for d in fresh if newest is not None and d.deleted_at <= newest]
                elif fresh:
                    latest = max(deletion.deleted_at for deletion in fresh)
                    newest = latest if newest is None else max(newest, latest)
                    yield fresh
            if missed:
                yield missed
            if not gap:
                return
        raise TransientRemoteError(
            f"zoho: deleted {stream}: entries left the listing while it was read, {DELETION_PASSES} times "
            "running (records restored from the recycle bin): the deletions read are applied, and the next "
            "pull lists them again from where this one started"
        )

    def _deleted_pages(self, stream: str, since: datetime | None) -> Iterator[tuple[list[Deletion], bool]]:
        """One reading of the listing of deletions: each page, and whether it joins the pages before it
        (the first does; a later one when it shows an entry read before it)."""
        headers = {"If-Modified-Since": http_date(since)} if since is not None else None
        page, per_page = 1, DELETED_PAGE
        seen: set[str] = set()
        while True:
            response = self.api.call(
                "GET",
                f"/{stream}/deleted",
                params={"type": "all", "page": str(page), "per_page": str(per_page)},
                headers=headers,
                cost=DELETED_CALL,
                what=f"zoho: deleted {stream} (page {page})",
            )
            entries = [
                Deletion(
                    str(item["id"]), instant(item.get("deleted_time"), f"zoho deleted {stream} {item['id']}")
                )
                for item in response.data
                if item.get("id")
            ]
            yield entries, page == 1 or any(deletion.id in seen for deletion in entries)
            seen.update(deletion.id for deletion in entries)
            if response.body is None or not response.info.get("more_records"):
                return
            page, per_page = _next_window(page * per_page)

    # -- previews ----------------------------------------------------------------------------------

    def sample(self, stream: str, limit: int, fields: Sequence[str] = ()) -> list[tuple[str, Any]]:
        taken: list[tuple[str, Any]] = []
        for page in self.changes(stream, fields, None, frozenset()):
            taken.extend((f"zoho.{stream} {c.id}", dict(c.raw)) for c in page[: limit - len(taken)])
            if len(taken) >= limit:
                break
        return taken
