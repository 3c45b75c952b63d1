"""A batch applied at once gives exactly what applying its records one by one gives."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import astuple
from typing import Any

from sqlalchemy import func, select

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.errors import CustomerError
from connector.ledger.customers import NewCustomer
from connector.ledger.models import Customer
from connector.mapping.files import load_mapping_set
from connector.master.models import CustomerBinding, CustomerEvent, IdentityReview
from connector.master.service import Applied, CustomerMaster
from connector.master.sync import sync_customers
from tests.conftest import REPO, LedgerDatabase
from tests.integration.helpers import at_once
from tests.integration.test_master import DIGEST, contact, master

ZOHO = "zoho.Contacts"


def one_by_one(m: CustomerMaster, backend: str, records: Sequence[dict[str, Any]]) -> list[Applied]:
    """The per-record semantics: each record applied on its own in a savepoint, a refusal `failed`."""
    results = []
    for record in records:
        try:
            with m.session.begin_nested():
                results.append(m.apply(backend, record, DIGEST))
        except CustomerError as exc:
            results.append(Applied("failed", None, str(exc)))
    return results


def snapshot(container: Container, results: Sequence[Applied]) -> dict[str, Any]:
    """Everything the master wrote, by account number instead of row ids, personal data decrypted."""
    cipher = container.cipher
    with unit_of_work(container.sessions) as session:
        directory = container.customers(session)
        numbers = {c.id: c.account_no for c in session.scalars(select(Customer))}
        customers = [astuple(view)[1:] for view in directory.all()]  # all but the row id
        indexes = sorted(
            (numbers[c.id], c.email_index, c.phone_index, c.name_index)
            for c in session.scalars(select(Customer))
        )
        bindings = [
            (
                b.backend,
                b.external_id,
                numbers[b.customer_id],
                b.status,
                b.content_hash,
                b.mapping_digest,
                b.deleted_at,
            )
            for b in session.scalars(select(CustomerBinding).order_by(CustomerBinding.id))
        ]
        records = [
            json.loads(cipher.decrypt("customer_binding.record", b.record_enc))
            for b in session.scalars(select(CustomerBinding).order_by(CustomerBinding.id))
        ]
        events = [
            (numbers[e.customer_id], e.kind, e.backend, e.external_id, e.detail, e.actor)
            for e in session.scalars(select(CustomerEvent).order_by(CustomerEvent.id))
        ]
        reviews = [
            (r.backend, r.external_id, r.rule, r.reason, r.status, r.candidates)
            for r in session.scalars(select(IdentityReview).order_by(IdentityReview.id))
        ]
        outcomes = [(r.outcome, numbers.get(r.customer_id or 0), r.reason) for r in results]
    return {
        "outcomes": outcomes,
        "customers": customers,
        "indexes": indexes,
        "bindings": bindings,
        "records": records,
        "events": events,
        "reviews": reviews,
    }


Setup = Callable[[CustomerMaster], object]


def applying(*records: tuple[str, dict[str, Any]]) -> Setup:
    def apply(m: CustomerMaster) -> None:
        for backend, record in records:
            m.apply(backend, record, DIGEST)

    return apply


def both_ways(
    database: LedgerDatabase, records: list[dict[str, Any]], before: Setup | None = None, passes: int = 1
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the batch through apply_many, the same records one by one), each from the same start; with
    `passes`, the same records again, each pass in its own transaction (the last pass is compared)."""
    found = []
    for apply in ("batch", "one by one"):
        database.reset()
        container = database.container
        if before is not None:
            with master(container) as m:
                before(m)
        for _ in range(passes):
            with master(container) as m:
                if apply == "batch":
                    results = m.apply_many(ZOHO, records, DIGEST)
                else:
                    results = one_by_one(m, ZOHO, records)
        found.append(snapshot(container, results))
    return found[0], found[1]


def test_new_records_of_a_batch_are_created_numbered_and_bound_in_their_order(
    database: LedgerDatabase,
) -> None:
    records = [
        contact(f"z{n}", name=name, email=f"u{n}@x.cn", phone=f"+86138001380{n:02d}", province=province)
        for n, (name, province) in enumerate(
            [
                ("王小明", "上海"),
                ("李娜", "北京"),
                ("ACME Co., Ltd.", "上海"),
                ("欧阳娜娜", None),
                ("张伟", "上海"),
            ]
        )
    ]
    records[2]["company"] = "ACME"
    batch, alone = both_ways(database, records)
    assert batch == alone
    assert [outcome for outcome, _, _ in batch["outcomes"]] == ["created"] * 5
    assert [number for _, number, _ in batch["outcomes"]] == [
        "INDSH00001",
        "INDBJ00001",
        "SMESH00001",
        "INDCN00001",
        "INDSH00002",
    ]
    assert [kind for _, kind, *_ in batch["events"]] == ["created", "bound"] * 5


def test_the_second_of_two_new_records_sharing_an_email_sees_the_first(database: LedgerDatabase) -> None:
    records = [
        contact("z1", email="info@acme.cn"),
        contact("z2", name="Someone else", email="INFO@acme.cn "),
        contact("z3"),
    ]
    batch, alone = both_ways(database, records)
    assert batch == alone
    assert [(o, r) for o, _, r in batch["outcomes"]][:2] == [
        ("created", ""),
        ("review", "review #1: the customer already has another zoho.Contacts record"),
    ]
    assert batch["outcomes"][2][0] == "created"


def test_records_sharing_a_phone_within_a_batch_go_to_review_and_namesakes_of_one_backend_do_not(
    database: LedgerDatabase,
) -> None:
    records = [
        contact("z1", name="明远贸易有限公司", phone="+8613800138000", province="上海"),
        contact("z2", name="Other", phone="+8613800138000"),
        contact("z3", name="明远贸易", province="上海"),  # zoho keeps it apart from z1: another customer
        contact("z4", name="明远贸易", province="北京"),  # another region: a different customer
    ]
    batch, alone = both_ways(database, records)
    assert batch == alone
    assert [o for o, _, _ in batch["outcomes"]] == ["created", "review", "created", "created"]


def test_a_record_matching_an_existing_customer_is_linked_and_fills_what_it_lacks(
    database: LedgerDatabase,
) -> None:
    before = applying(("fxiaoke.customers", contact("f1", name="上海明远", email="li@acme.cn")))
    records = [
        contact("z1"),
        contact("z2", name="明远", email="li@acme.cn", phone="+8613800138000"),
        contact("z3", name="Other", phone="+8613800138000"),  # the linked customer holds this phone now
    ]
    batch, alone = both_ways(database, records, before)
    assert batch == alone
    assert [o for o, _, _ in batch["outcomes"]] == ["created", "linked", "review"]
    with unit_of_work(database.container.sessions) as session:  # the one-by-one run's database
        [linked] = database.container.customers(session).find_by_email("li@acme.cn")
    assert (linked.name, linked.phone) == ("上海明远", "+8613800138000")


def test_bound_records_repeated_records_and_open_reviews_in_a_batch_keep_their_semantics(
    database: LedgerDatabase,
) -> None:
    before = applying(
        (ZOHO, contact("z1", email="a@x.cn")),
        (ZOHO, contact("z2", email="b@x.cn")),
        ("fxiaoke.customers", contact("f1", email="shared@x.cn")),
        (ZOHO, contact("z3", email="shared@x.cn")),  # linked to f1's customer
        (ZOHO, contact("z4", email="shared@x.cn")),  # held for review: zoho already has z3 there
    )
    records = [
        contact("z1", email="a@x.cn"),  # unchanged
        contact("z2", email="b2@x.cn"),  # updated
        contact("z5", email="new@x.cn"),  # created
        contact("z5", email="new@x.cn", phone="+8613900139000"),  # the same record again, changed
        contact("z1", email="a@x.cn"),  # unchanged again
        contact("z4", email="z4@x.cn"),  # its open review is superseded: now a new customer
        contact("z6", email="b2@x.cn"),  # z2's new e-mail, applied earlier in this batch
        contact("z2", email="b@x.cn"),  # back to what was stored before the batch: an update
    ]
    batch, alone = both_ways(database, records, before)
    assert batch == alone
    assert [o for o, _, _ in batch["outcomes"]] == [
        "unchanged",
        "updated",
        "created",
        "updated",
        "unchanged",
        "created",
        "review",
        "updated",
    ]
    assert [r[4] for r in batch["reviews"]] == ["superseded", "open"]


def reviews_and_merges(m: CustomerMaster) -> None:
    """Two customers sharing an e-mail, one known by name and region elsewhere, one merged away."""
    m.apply(ZOHO, contact("z1", email="a@x.cn"), DIGEST)
    m.apply(ZOHO, contact("z2", email="b@x.cn"), DIGEST)
    m.apply(ZOHO, contact("z2", email="a@x.cn"), DIGEST)  # a bound record changes: no identity check
    m.apply("fxiaoke.customers", contact("f1", name="明远贸易", province="上海", email="old@x.cn"), DIGEST)
    absorbed = m.apply("fxiaoke.customers", contact("f2", name="Absorbed", phone="+8613900000001"), DIGEST)
    survivor = m.apply("fxiaoke.customers", contact("f3", name="Survivor", phone="+8613900000002"), DIGEST)
    into, away = (m.directory.view(a.customer_id or 0).account_no for a in (survivor, absorbed))
    m.merge(into, away, "the same company")


HELD = [
    contact("z10", email="a@x.cn"),  # two customers share it
    contact("z11", name="明远贸易有限公司", province="上海", email="new@x.cn"),  # the name, not the e-mail
    contact("z12", name="Someone", phone="+8613900000001"),  # a merged customer's phone: its survivor's
    contact("z13", name="明远贸易", province="上海"),  # f1's customer by name and region: linked
    contact("z14", name="明远贸易", province="上海", email="x@x.cn"),  # zoho has z13 there: somebody else
    contact("z15", email="a@x.cn", phone="+8613900000001"),  # both rules find somebody
    contact("z16", name="Someone", phone="+8613900000001"),  # the survivor, bound to z12 in this batch
]


def test_records_the_rules_hold_for_review_are_held_in_a_batch_as_one_by_one(
    database: LedgerDatabase,
) -> None:
    batch, alone = both_ways(database, HELD, reviews_and_merges)
    assert batch == alone
    assert [(o, r.split(": ", 1)[-1]) for o, _, r in batch["outcomes"]] == [
        ("review", "2 customers share this e-mail"),
        ("review", "same name and region but a different e-mail"),
        ("linked", "same phone"),
        ("linked", "same name and region"),
        ("created", ""),
        ("review", "2 customers share this e-mail"),
        ("review", "the customer already has another zoho.Contacts record"),
    ]
    *_, (_, _, rule, _, status, candidates) = batch["reviews"]  # z16's: the survivor z12 went to
    assert (rule, status, candidates.isdigit()) == ("phone", "open", True)


def test_a_second_pass_updates_the_open_reviews_as_one_by_one(database: LedgerDatabase) -> None:
    batch, alone = both_ways(database, HELD, reviews_and_merges, passes=2)
    assert batch == alone
    assert [o for o, _, _ in batch["outcomes"]] == [
        "review",
        "created",  # the namesake it was held for has a zoho record (z13) now: somebody else
        "unchanged",
        "unchanged",
        "unchanged",
        "review",
        "review",
    ]
    assert [status for *_, status, _ in batch["reviews"]] == ["open", "superseded", "open", "open"]


def test_a_failing_record_in_a_batch_does_not_lose_the_others(database: LedgerDatabase) -> None:
    records = [
        contact("z1"),
        {"external_id": "z2", "name": "  ", "email": "nameless@x.cn"},
        {"name": "no id"},
        contact("z3", email="nameless@x.cn"),  # the refused record left nothing behind
    ]
    batch, alone = both_ways(database, records)
    assert batch == alone
    assert batch["outcomes"] == [
        ("created", "INDCN00001", ""),
        ("failed", None, "zoho.Contacts record z2: a new customer needs a name"),
        ("failed", None, "the mapped record has no external_id"),
        ("created", "INDCN00002", ""),
    ]


def test_a_second_pass_over_the_same_batch_changes_nothing(container: Container) -> None:
    records = [contact(f"z{n}", email=f"u{n}@x.cn") for n in range(20)] + [contact("z0", email="u0@x.cn")]
    with master(container) as m:
        first = m.apply_many(ZOHO, records, DIGEST)
    with master(container) as m:
        again = m.apply_many(ZOHO, records, DIGEST)
    assert [r.outcome for r in first] == ["created"] * 20 + ["unchanged"]
    assert [(r.outcome, r.customer_id) for r in again] == [("unchanged", r.customer_id) for r in first]


def test_customers_created_in_bulk_are_the_customers_created_one_by_one(database: LedgerDatabase) -> None:
    new = [
        NewCustomer("上海明远贸易有限公司", "KA", "SH", "cny", email="a@b.cn", phone="+862168881234"),
        NewCustomer("B", "KA", "BJ", "CNY", address="北京市", bank_accounts=("6222 0210 0112 3456 789",)),
        NewCustomer("C", "SME", "SH", "USD", payment_terms_days=45),
        NewCustomer("D", "KA", "SH", "CNY", value_tier="high"),
    ]
    made = []
    for bulk in (True, False):
        database.reset()
        with unit_of_work(database.container.sessions) as session:
            directory = database.container.customers(session)
            if bulk:
                numbers = [
                    c.account_no
                    for c in directory.create_many(new, templates=[None, None, "S{seq:04}", None])
                ]
            else:
                templates = [None, None, "S{seq:04}", None]
                numbers = [directory.create(c, t).account_no for c, t in zip(new, templates, strict=True)]
            views = [directory.get(number) for number in numbers]
            found = [c.account_no for c in directory.find_by_bank_account("6222021001123456789")]
        made.append(
            (
                [
                    (v.account_no, v.name, v.email, v.phone, v.address, v.currency, v.value_tier)
                    for v in views
                ],
                found,
            )
        )
    assert made[0] == made[1]
    assert [number for number, *_ in made[0][0]] == ["KASH00001", "KABJ00001", "S0001", "KASH00002"]


def test_two_intakes_of_one_persons_records_at_once_make_one_customer_and_a_review_never_two(
    container: Container,
) -> None:
    mappings, _ = load_mapping_set(REPO / "mappings")
    assert mappings is not None

    def intake(prefix: str) -> None:
        records = [
            (
                f"feed row {n}",
                {"data": {"id": f"{prefix}{n:03d}", "name": f"Person {n}", "email": f"p{n}@example.cn"}},
            )
            for n in range(40)
        ]
        sync_customers(container, mappings, "webhook_customers", records, "customers")

    failures = at_once(lambda: intake("X"), lambda: intake("Y"))

    assert failures == []
    with unit_of_work(container.sessions) as session:
        customers = session.scalar(select(func.count()).select_from(Customer))
        reviews = session.scalar(select(func.count()).select_from(IdentityReview))
    assert (customers, reviews) == (40, 40)


def test_two_merges_crossing_at_once_merge_once_and_refuse_the_other_never_a_loop(
    container: Container,
) -> None:
    with master(container) as m:
        first = m.directory.view(m.apply("zoho", contact("z1"), DIGEST).customer_id or 0).account_no
        second = m.directory.view(m.apply("zoho", contact("z2"), DIGEST).customer_id or 0).account_no

    def merge(survivor: str, absorbed: str) -> None:
        with master(container) as m:
            m.merge(survivor, absorbed)

    refused = at_once(lambda: merge(first, second), lambda: merge(second, first))

    assert [str(exc) for exc in refused] == ["a merged customer cannot take part in another merge"]
    assert all(isinstance(exc, CustomerError) for exc in refused)
    with unit_of_work(container.sessions) as session:
        statuses = sorted(session.scalars(select(Customer.status)))
    assert statuses == ["active", "merged"]


def test_one_company_written_in_capitals_in_another_systems_batch_goes_to_a_person(
    container: Container,
) -> None:
    with master(container) as m:
        m.apply_many("zoho", [contact("z1", name="Nordic Foods AB", province="上海")], DIGEST)
        (held,) = m.apply_many("fxiaoke", [contact("FX-1", name="NORDIC FOODS AB", province="上海")], DIGEST)
        assert held.outcome == "review"
