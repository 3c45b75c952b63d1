from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from connector.bootstrap import Container
from connector.db import unit_of_work
from connector.errors import CustomerError
from connector.ledger.models import Customer
from connector.mapping.files import load_mapping_set
from connector.master.lifecycle import merge
from connector.master.models import CustomerBinding
from connector.master.policy import CustomerPolicy
from connector.master.records import REVIEW_RECORD
from connector.master.service import CustomerMaster
from connector.master.sync import sync_customers
from connector.settings import ChartSettings
from connector.sync.models import QuarantinedRecord, SyncRun
from tests.conftest import REPO
from tests.integration.helpers import invoice, receipt
from tests.unit.test_classify import shipped_policy

POLICY = shipped_policy()
DIGEST = "d" * 64
CHART = ChartSettings()


@contextmanager
def master(container: Container, policy: CustomerPolicy = POLICY) -> Iterator[CustomerMaster]:
    with unit_of_work(container.sessions) as session:
        yield container.master(session, policy, actor="test")


def contact(external_id: str, **fields: Any) -> dict[str, Any]:
    return {"external_id": external_id, "name": f"Customer {external_id}", "country": "China", **fields}


def test_a_new_record_becomes_a_classified_numbered_customer_with_its_class_terms(
    container: Container,
) -> None:
    record = contact("z1", name="上海明远贸易有限公司", company="明远", employees="800", province="上海")
    with master(container) as m:
        applied = m.apply("zoho", record, DIGEST)
        assert applied.outcome == "created"
        assert applied.customer_id is not None
        view = m.directory.view(applied.customer_id)
        history = m.history(applied.customer_id)
    assert (view.account_no, view.customer_type, view.region) == ("KASH00001", "KA", "SH")
    assert (str(view.credit_limit), view.payment_terms_days) == ("500,000.00 CNY", 60)
    assert [event.kind for event in history] == ["created", "bound"]
    assert "rule 2: employees '800' at_least 500" in history[0].detail


def test_an_unchanged_record_is_skipped_and_a_changed_one_updates_its_customer(container: Container) -> None:
    with master(container) as m:
        created = m.apply("zoho", contact("z1", email="a@acme.cn"), DIGEST)
    with master(container) as m:
        results = m.apply_many(
            "zoho",
            [contact("z1", email="a@acme.cn"), contact("z2"), contact("z1", email="b@acme.cn")],
            DIGEST,
        )
        assert [r.outcome for r in results] == ["unchanged", "created", "updated"]
        assert created.customer_id is not None
        assert m.directory.view(created.customer_id).email == "b@acme.cn"
        assert [c.id for c in m.directory.find_by_email("b@acme.cn")] == [created.customer_id]


def test_a_record_changed_only_where_no_mapping_reads_leaves_its_customer_as_it_was(
    container: Container,
) -> None:
    with master(container) as m:
        created = m.apply(
            "zoho", contact("z1", email="a@acme.cn", modified_at="2026-03-01T08:00:00+00:00"), DIGEST
        )
    assert created.customer_id is not None
    with master(container) as m:
        updated_at = m.session.get_one(Customer, created.customer_id).updated_at
    with master(container) as m:  # the push wrote its figures: only the stamp moved
        restamped = m.apply(
            "zoho", contact("z1", email="a@acme.cn", modified_at="2026-03-01T09:00:00+00:00"), DIGEST
        )
        late = m.apply(
            "zoho", contact("z1", email="old@acme.cn", modified_at="2026-03-01T08:30:00+00:00"), DIGEST
        )

        assert (restamped.outcome, late.outcome) == ("unchanged", "stale")  # the newer stamp is kept
        assert m.session.get_one(Customer, created.customer_id).updated_at == updated_at
        assert [event.kind for event in m.history(created.customer_id)] == ["created", "bound"]


def test_a_record_from_another_crm_links_to_the_same_customer_by_email(container: Container) -> None:
    with master(container) as m:
        zoho = m.apply("zoho", contact("z1", email="li@acme.cn"), DIGEST)
        fx = m.apply("fxiaoke", contact("FX-9", email="LI@acme.cn ", phone="+8613800138000"), DIGEST)
        assert (fx.outcome, fx.customer_id) == ("linked", zoho.customer_id)
        assert zoho.customer_id is not None
        assert m.directory.view(zoho.customer_id).phone == "+8613800138000"  # filled in, nothing overwritten
        count = m.session.scalar(select(func.count()).select_from(Customer))
    assert count == 1


def test_a_record_kept_in_another_currency_goes_to_review_instead_of_linking(container: Container) -> None:
    with master(container) as m:
        zoho = m.apply("zoho", contact("z1", email="info@acme.cn", currency="CNY"), DIGEST)
        held = m.apply("webhook", contact("w1", email="info@acme.cn", currency="USD"), DIGEST)
        assert held.outcome == "review"
        [review] = m.reviews()
        assert review.candidates == str(zoho.customer_id)
        assert "kept in USD and account" in review.reason
        assert "in CNY" in review.reason
        usd = m.apply("webhook", contact("w2", email="usd@acme.cn", currency="USD"), DIGEST)
        silent = m.apply("zoho", contact("z2", email="usd@acme.cn"), DIGEST)  # no currency: the base one
        assert (usd.outcome, silent.outcome) == ("created", "review")


def test_a_customer_with_no_postings_takes_the_currency_its_record_turns_to(container: Container) -> None:
    with master(container) as m:
        created = m.apply("zoho", contact("z1", currency="CNY"), DIGEST)
        assert m.apply("zoho", contact("z1", currency="USD"), DIGEST).outcome == "updated"
        assert created.customer_id is not None
        view = m.directory.view(created.customer_id)
        [changed] = [
            event.detail for event in m.history(created.customer_id) if event.kind == "currency_changed"
        ]
        kinds = {event.kind for event in m.history(created.customer_id)}
    assert view.currency == "USD"
    assert view.credit_limit is None or view.credit_limit.currency == "USD"
    assert changed.startswith("currency CNY → USD: the record is now kept in USD")
    assert "currency_differs" not in kinds


def test_a_customer_with_postings_keeps_its_currency_when_its_record_turns_to_another(
    container: Container,
) -> None:
    with master(container) as m:
        created = m.apply("zoho", contact("z1", currency="CNY"), DIGEST)
        assert created.customer_id is not None
        account_no = m.directory.view(created.customer_id).account_no
        container.ledger(m.session).post_many([invoice("I1", account_no, "500")])
        assert m.apply("zoho", contact("z1", currency="JPY"), DIGEST).outcome == "updated"
        kinds = [event.kind for event in m.history(created.customer_id)]
        assert m.directory.view(created.customer_id).currency == "CNY"
    assert "currency_differs" in kinds
    assert "currency_changed" not in kinds


def test_a_customer_whose_merged_customer_has_postings_keeps_its_currency_when_its_record_turns(
    container: Container,
) -> None:
    with master(container) as m:
        kept = m.apply("zoho", contact("z1", currency="CNY"), DIGEST)
        absorbed = m.apply("zoho", contact("z2", company="B", currency="CNY"), DIGEST)
        assert kept.customer_id is not None
        assert absorbed.customer_id is not None
        kept_no = m.directory.view(kept.customer_id).account_no
        absorbed_no = m.directory.view(absorbed.customer_id).account_no
        container.ledger(m.session).post_many([invoice("I1", absorbed_no, "500")])
        merge(m, kept_no, absorbed_no, "the same company")
        m.apply("zoho", contact("z1", currency="USD"), DIGEST)
        kinds = [event.kind for event in m.history(kept.customer_id)]
        assert m.directory.view(kept.customer_id).currency == "CNY"
    assert "currency_differs" in kinds


def test_an_address_with_a_plus_tag_is_the_same_mailbox(container: Container) -> None:
    with master(container) as m:
        zoho = m.apply("zoho", contact("z1", name="Li Wei", email="li.wei@gmail.com"), DIGEST)
        shop = m.apply("webhook", contact("w1", name="Li Wei", email="li.wei+shop@gmail.com"), DIGEST)
    assert (shop.outcome, shop.customer_id) == ("linked", zoho.customer_id)


def test_companies_whose_names_differ_beyond_a_legal_form_stay_apart(container: Container) -> None:
    with master(container) as m:
        zinc = m.apply("zoho", contact("z1", name="Shanghai Zinc Co., Ltd.", province="Shanghai"), DIGEST)
        other = m.apply("webhook", contact("w1", name="Shanghai Z Inc.", province="上海"), DIGEST)
        same = m.apply("erp", contact("e1", name="Shanghai Zinc Company Limited", province="上海"), DIGEST)
    assert other.outcome == "created"
    assert (same.outcome, same.customer_id) == ("linked", zinc.customer_id)


def test_a_name_and_region_match_links_across_sources(container: Container) -> None:
    with master(container) as m:
        first = m.apply("zoho", contact("z1", name="ACME Co., Ltd.", province="Shanghai"), DIGEST)
        second = m.apply("webhook", contact("w1", name="acme", province="上海"), DIGEST)
    assert (second.outcome, second.customer_id) == ("linked", first.customer_id)


def test_an_ambiguous_record_goes_to_review_and_a_person_links_it(container: Container) -> None:
    with master(container) as m:
        m.apply("zoho", contact("z1", email="info@acme.cn"), DIGEST)
        m.apply("fxiaoke", contact("f1", email="info@acme.cn"), DIGEST)  # linked by e-mail
        held = m.apply("zoho", contact("z2", email="info@acme.cn"), DIGEST)  # zoho already has a record there
        assert held.outcome == "review"
        [review] = m.reviews()
        assert review.reason == "the customer already has another zoho record"
        assert m.review_record(review)["email"] == "info@acme.cn"
        again = m.apply("zoho", contact("z2", email="info@acme.cn"), DIGEST)
        assert again.outcome == "review"
        assert len(m.reviews()) == 1  # the same record is held once
        target = m.directory.view(held.customer_id or 0).account_no if held.customer_id else "SME0000001"
        del target
        account_no = m.directory.find_by_email("info@acme.cn")[0].account_no
        linked = m.resolve_review(review.id, link_to=account_no)
        assert linked.outcome == "linked"
        assert m.reviews() == []
        assert m.apply("zoho", contact("z2", email="info@acme.cn"), DIGEST).outcome == "unchanged"


def test_a_record_under_review_is_never_linked_to_a_merged_customer(container: Container) -> None:
    with master(container) as m:
        first = m.apply("zoho", contact("z1", email="info@acme.cn"), DIGEST)
        second = m.apply("fxiaoke", contact("f9", name="Other Co", email="x@other.cn"), DIGEST)
        survivor = m.directory.view(first.customer_id or 0).account_no
        merged = m.directory.view(second.customer_id or 0).account_no
        m.merge(survivor, merged)
        held = m.apply("zoho", contact("z2", email="info@acme.cn"), DIGEST)
        assert held.outcome == "review"
        [review] = m.reviews()
        with pytest.raises(CustomerError, match=f"{merged} was merged into another customer"):
            m.resolve_review(review.id, link_to=merged)


def test_a_reviewed_record_can_become_a_customer_of_its_own(container: Container) -> None:
    with master(container) as m:
        m.apply("zoho", contact("z1", phone="+8613800138000"), DIGEST)
        m.apply("zoho", contact("z2", phone="+8613900139000"), DIGEST)
        held = m.apply(
            "webhook", contact("w1", email="new@x.cn", phone="+8613800138000", name="Other"), DIGEST
        )
        assert held.outcome == "linked"
        ambiguous = m.apply("zoho", contact("z3", phone="+8613800138000"), DIGEST)
        assert ambiguous.outcome == "review"
        [review] = m.reviews()
        created = m.resolve_review(review.id, create=True)
        assert created.outcome == "created"
        assert m.reviews("created")[0].customer_id == created.customer_id


def test_a_deleted_record_marks_its_binding_deleted_and_its_only_customer_inactive(
    container: Container,
) -> None:
    with master(container) as m:
        created = m.apply("zoho", contact("z1"), DIGEST)
        assert m.delete("zoho", "z1").outcome == "updated"
        assert created.customer_id is not None
        assert m.directory.view(created.customer_id).status == "inactive"
        binding = m.session.scalars(select(CustomerBinding)).one()
        assert (binding.status, binding.deleted_at is not None) == ("deleted", True)
        assert m.delete("zoho", "z1").reason == "already deleted"
        back = m.apply("zoho", contact("z1", email="back@acme.cn"), DIGEST)  # restored, and edited
        assert back.outcome == "reactivated"
        assert m.directory.view(created.customer_id).status == "active"
        kinds = [event.kind for event in m.history(created.customer_id)]
    assert kinds == ["created", "bound", "binding_deleted", "inactive", "binding_restored", "active"]


def test_a_customer_left_with_no_crm_record_while_it_owes_says_so_and_how_to_merge_it(
    container: Container,
) -> None:
    with master(container) as m:
        created = m.apply("zoho", contact("z1"), DIGEST)
        assert created.customer_id is not None
        account_no = m.directory.view(created.customer_id).account_no
        container.ledger(m.session).post_many([invoice("I1", account_no, "500")])
        m.delete("zoho", "z1")  # merged into another record in Zoho: deleted here
        [inactive] = [event.detail for event in m.history(created.customer_id) if event.kind == "inactive"]
    assert inactive == (
        "its last record (zoho z1) was deleted, while its ledger holds 500.00 CNY on 1122: if the CRM merged "
        f"it into another record, merge it here too (`connector customers merge SURVIVOR {account_no}`), so "
        "that record shows its money"
    )


def test_a_customer_left_with_no_crm_record_says_so_of_money_it_holds_for_one_merged_into_it(
    container: Container,
) -> None:
    with master(container) as m:
        kept, absorbed = (
            m.apply("zoho", contact("z1"), DIGEST),
            m.apply("zoho", contact("z2", company="B"), DIGEST),
        )
        assert kept.customer_id is not None
        assert absorbed.customer_id is not None
        kept_no = m.directory.view(kept.customer_id).account_no
        absorbed_no = m.directory.view(absorbed.customer_id).account_no
        container.ledger(m.session).post_many([invoice("I1", absorbed_no, "500")])
        merge(m, kept_no, absorbed_no, "the same company")
        m.delete("zoho", "z1")
        m.delete("zoho", "z2")
        [inactive] = [event.detail for event in m.history(kept.customer_id) if event.kind == "inactive"]
    assert ", while its ledger holds 500.00 CNY on 1122: " in inactive


def test_a_deleted_record_stays_deleted_when_an_older_or_the_very_same_version_comes_again(
    container: Container,
) -> None:
    before = "2026-03-01T08:00:00+00:00"
    with master(container) as m:
        m.apply("zoho", contact("z1", modified_at=before), DIGEST)
        m.apply("webhook", contact("w1"), DIGEST)
        m.delete("zoho", "z1")
        m.delete("webhook", "w1")
        late = m.apply("zoho", contact("z1", email="late@acme.cn", modified_at=before), DIGEST)
        replayed = m.apply("webhook", contact("w1"), DIGEST)  # an old export imported again
        assert (late.outcome, replayed.outcome) == ("stale", "stale")
        assert "not back in its source" in late.reason
        assert m.apply("zoho", contact("z1", modified_at="2099-01-01T00:00:00+00:00"), DIGEST).outcome == (
            "reactivated"
        )


def test_a_record_restored_and_edited_after_its_deletion_comes_back_however_late_the_deletion_is_applied(
    container: Container,
) -> None:
    with master(container) as m:
        m.apply("zoho", contact("z1", modified_at="2026-03-01T08:00:00+08:00"), DIGEST)
        m.delete("zoho", "z1", datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # processed late, by the CRM's clock
        edited = contact("z1", email="back@acme.cn", modified_at="2026-03-02T10:00:00+00:00")
        assert m.apply("zoho", edited, DIGEST).outcome == "reactivated"


def test_a_deletion_dated_before_the_version_applied_last_changes_nothing(container: Container) -> None:
    with master(container) as m:
        created = m.apply("zoho", contact("z1", modified_at="2026-11-01T10:05:00+00:00"), DIGEST)
        late = m.delete("zoho", "z1", datetime(2026, 11, 1, 10, 0, 30, tzinfo=UTC))  # retried for days
        assert (late.outcome, m.directory.view(created.customer_id or 0).status) == ("stale", "active")
        assert "before the version applied last" in late.reason
        assert m.session.scalars(select(CustomerBinding.status)).one() == "active"
        assert m.apply("zoho", contact("z3", email="z@a.cn"), DIGEST).outcome == "created"
        held = contact("z4", email="z@a.cn", modified_at="2026-11-01T10:05:00+00:00")
        m.apply("fxiaoke", contact("f1", email="z@a.cn"), DIGEST)
        assert m.apply("zoho", held, DIGEST).outcome == "review"
        assert m.delete("zoho", "z4", datetime(2026, 11, 1, 10, 0, tzinfo=UTC)).outcome == "stale"
        assert len(m.reviews()) == 1  # still held for a person


def test_a_customer_with_another_live_record_stays_active_when_one_is_deleted(container: Container) -> None:
    with master(container) as m:
        created = m.apply("zoho", contact("z1", email="a@b.cn"), DIGEST)
        m.apply("fxiaoke", contact("f1", email="a@b.cn"), DIGEST)
        m.delete("zoho", "z1")
        assert m.directory.view(created.customer_id or 0).status == "active"


def test_merge_moves_bindings_and_records_both_sides(container: Container) -> None:
    with master(container) as m:
        a = m.apply("zoho", contact("z1"), DIGEST)
        b = m.apply("zoho", contact("z2"), DIGEST)
        survivor, absorbed = m.directory.view(a.customer_id or 0), m.directory.view(b.customer_id or 0)
        assert m.merge(survivor.account_no, absorbed.account_no, "same company") == 1
        assert m.directory.view(absorbed.id).status == "merged"
        assert m.apply("zoho", contact("z2", email="x@y.cn"), DIGEST).customer_id == survivor.id
        after = m.directory.view(survivor.id)
        assert (after.name, after.email) == ("Customer z1", "x@y.cn")  # only what changed at the source
        assert [e.kind for e in m.history(survivor.id)][-2:] == ["absorbed", "binding_moved_in"]
        assert "same company" in m.history(absorbed.id)[-1].detail
        with pytest.raises(CustomerError, match="merged customer"):
            m.merge(survivor.account_no, absorbed.account_no)


def test_customers_kept_in_two_currencies_are_neither_merged_nor_linked(container: Container) -> None:
    with master(container) as m:
        cny = m.apply("zoho", contact("z1", email="info@acme.cn"), DIGEST)
        usd = m.apply("zoho", contact("z2", name="Acme US", currency="USD"), DIGEST)
        kept, other = m.directory.view(cny.customer_id or 0), m.directory.view(usd.customer_id or 0)
        with pytest.raises(
            CustomerError, match=f"{other.account_no} is kept in USD and {kept.account_no} in CNY"
        ):
            m.merge(kept.account_no, other.account_no)
        held = m.apply("zoho", contact("z3", email="info@acme.cn", currency="usd"), DIGEST)
        assert held.outcome == "review"
        [review] = m.reviews()
        with pytest.raises(CustomerError, match=f"the record is kept in USD and {kept.account_no} in CNY"):
            m.resolve_review(review.id, link_to=kept.account_no)
        assert m.resolve_review(review.id, create=True).outcome == "created"
        assert m.directory.view(other.id).status != "merged"


def test_split_makes_a_wrongly_linked_record_its_own_customer(container: Container) -> None:
    with master(container) as m:
        first = m.apply("zoho", contact("z1", email="a@b.cn"), DIGEST)
        m.apply("fxiaoke", contact("f1", email="a@b.cn", name="Someone Else"), DIGEST)
        created = m.split("fxiaoke", "f1", "different people")
        assert created.id != first.customer_id
        assert created.name == "Someone Else"
        assert (
            m.apply("fxiaoke", contact("f1", email="a@b.cn", name="Someone Else"), DIGEST).customer_id
            == created.id
        )
        with pytest.raises(CustomerError, match="only record"):
            m.split("zoho", "z1")


def test_an_unmerge_moves_back_the_records_the_merge_moved_and_no_other(container: Container) -> None:
    with master(container) as m:
        kept = m.apply("zoho", contact("z1", company="A"), DIGEST).customer_id or 0
        gone = m.apply("zoho", contact("z2", company="B"), DIGEST).customer_id or 0
        kept_no, gone_no = m.directory.view(kept).account_no, m.directory.view(gone).account_no
        m.merge(kept_no, gone_no, "the same company")
        m.apply("webhook", contact("w1", company="A", email="w@a.cn"), DIGEST)  # a record of its own, later
        bound = {b.external_id: b.customer_id for b in m.session.scalars(select(CustomerBinding))}
        assert bound == {"z1": kept, "z2": kept, "w1": bound["w1"]}
        assert m.unmerge(gone_no, "two companies").account_no == gone_no
        bound = {b.external_id: b.customer_id for b in m.session.scalars(select(CustomerBinding))}
        assert (bound["z1"], bound["z2"]) == (kept, gone)
        assert m.directory.view(gone).status == "active"
        assert [e.kind for e in m.history(gone)][-1] == "unmerged"


def test_an_unmerge_of_a_customer_whose_survivor_was_merged_on_says_which_to_unmerge_first(
    container: Container,
) -> None:
    with master(container) as m:
        numbers = [
            m.directory.view(
                m.apply("zoho", contact(f"z{n}", company=f"C{n}"), DIGEST).customer_id or 0
            ).account_no
            for n in range(3)
        ]
        m.merge(numbers[1], numbers[0], "same")
        m.merge(numbers[2], numbers[1], "same")
        with pytest.raises(
            CustomerError, match=f"merged in turn into {numbers[2]}: unmerge {numbers[1]} first"
        ):
            m.unmerge(numbers[0])
        m.unmerge(numbers[1])
        assert m.unmerge(numbers[0]).status == "active"


def test_an_unmerge_gives_each_customer_the_contact_details_of_its_own_records(container: Container) -> None:
    with master(container) as m:
        alpha = (
            m.apply("zoho", contact("z1", name="Alpha Trading", email="boss@alpha.cn"), DIGEST).customer_id
            or 0
        )
        beta = m.apply("zoho", contact("z2", name="Beta Foods", email="ops@beta.cn"), DIGEST).customer_id or 0
        beta_no = m.directory.view(beta).account_no
        m.merge(m.directory.view(alpha).account_no, beta_no, "the same company?")
        m.apply("zoho", contact("z2", name="Beta Foods", email="finance@beta.cn"), DIGEST)  # onto Alpha
        m.unmerge(beta_no, "two companies")
        views = m.directory.view(alpha), m.directory.view(beta)
        assert [(v.name, v.email) for v in views] == [
            ("Alpha Trading", "boss@alpha.cn"),
            ("Beta Foods", "finance@beta.cn"),
        ]
        found = m.apply("fxiaoke", contact("f1", name="Beta Foods", email="finance@beta.cn"), DIGEST)
        assert found.customer_id == beta


def test_an_unmerge_takes_back_a_record_linked_while_merged_by_its_contact_not_the_survivors(
    container: Container,
) -> None:
    with master(container) as m:
        alpha = m.apply(
            "zoho", contact("z1", name="Alpha Trading", email="boss@alpha.cn"), DIGEST
        ).customer_id
        beta = m.apply("zoho", contact("z2", name="Beta Foods", email="ops@beta.cn"), DIGEST).customer_id
        beta_no = m.directory.view(beta or 0).account_no
        m.merge(m.directory.view(alpha or 0).account_no, beta_no, "the same company?")
        linked = m.apply("fxiaoke", contact("f1", name="Beta Foods", email="ops@beta.cn"), DIGEST)
        own = m.apply("webhook", contact("w1", name="Alpha Trading", email="boss@alpha.cn"), DIGEST)
        assert linked.customer_id == own.customer_id == alpha
        m.unmerge(beta_no, "two companies")
        bound = {b.external_id: b.customer_id for b in m.session.scalars(select(CustomerBinding))}
        assert bound == {"z1": alpha, "z2": beta, "f1": beta, "w1": alpha}
        assert "fxiaoke f1" in [e.detail for e in m.history(alpha or 0)][-1]


def test_an_unmerge_leaves_the_survivors_own_records_and_takes_what_the_taken_back_ones_filled_in(
    container: Container,
) -> None:
    phone, alphas = "+8613800138000", "+8613911110000"
    with master(container) as m:
        first = contact("z1", name="Alpha", email="boss@alpha.cn", phone=alphas)
        alpha = m.apply("zoho", first, DIGEST).customer_id or 0
        # before the merge, linked by a person: Alpha's own record, with the e-mail Beta's will have
        m.apply("webhook", contact("w0", name="Alpha", email="ops@beta.cn", phone=alphas), DIGEST)
        [review] = m.reviews()
        m.resolve_review(review.id, link_to=m.directory.view(alpha).account_no)
        beta = m.apply(
            "zoho", contact("z2", name="Beta", email="ops@beta.cn", phone=phone), DIGEST
        ).customer_id
        beta_no = m.directory.view(beta or 0).account_no
        m.merge(m.directory.view(alpha).account_no, beta_no, "the same company?")
        filled = contact("f1", name="Beta", phone=phone, address="Beta Road 1")
        assert m.apply("fxiaoke", filled, DIGEST).customer_id == alpha  # by Beta's phone: fills the address
        m.unmerge(beta_no, "two companies")
        bound = {b.external_id: b.customer_id for b in m.session.scalars(select(CustomerBinding))}
        assert bound == {"z1": alpha, "w0": alpha, "z2": beta, "f1": beta}
        views = m.directory.view(alpha), m.directory.view(beta or 0)
        assert [(v.phone, v.address) for v in views] == [(alphas, None), (phone, "Beta Road 1")]


def test_merge_and_unmerge_leave_each_customer_active_while_one_of_its_records_is(
    container: Container,
) -> None:
    with master(container) as m:
        gone = m.apply("zoho", contact("z1"), DIGEST).customer_id or 0
        live = m.apply("zoho", contact("z2"), DIGEST).customer_id or 0
        m.delete("zoho", "z1")
        gone_no, live_no = m.directory.view(gone).account_no, m.directory.view(live).account_no
        m.merge(gone_no, live_no, "one company")
        assert m.directory.view(gone).status == "active"  # it holds z2 now
        m.unmerge(live_no, "two after all")
        assert (m.directory.view(gone).status, m.directory.view(live).status) == ("inactive", "active")


def test_a_deleted_record_split_off_is_an_inactive_customer(container: Container) -> None:
    with master(container) as m:
        first = m.apply("zoho", contact("z1", email="a@b.cn"), DIGEST).customer_id or 0
        m.apply("fxiaoke", contact("f1", email="a@b.cn"), DIGEST)
        m.apply("webhook", contact("w1", email="a@b.cn"), DIGEST)
        m.delete("webhook", "w1")
        created = m.split("webhook", "w1", "another company")
        assert (created.status, m.directory.view(first).status) == ("inactive", "active")


def test_a_split_gives_back_the_name_the_split_off_record_wrote_over(container: Container) -> None:
    with master(container) as m:
        first = m.apply("zoho", contact("z1", name="Li Wei", province="上海"), DIGEST).customer_id or 0
        assert m.apply("webhook", contact("w1", name="Li Wei", province="上海"), DIGEST).outcome == "linked"
        m.apply("webhook", contact("w1", name="Li Wei (Beijing Huaxin)", province="上海"), DIGEST)
        assert m.directory.view(first).name == "Li Wei (Beijing Huaxin)"
        m.split("webhook", "w1", "another Li Wei")
        assert m.directory.view(first).name == "Li Wei"


def test_a_split_takes_off_the_contact_details_only_the_split_off_record_gave(container: Container) -> None:
    with master(container) as m:
        first = m.apply("zoho", contact("z1", name="Li Wei", province="上海"), DIGEST)
        linked = contact(
            "w1", name="Li Wei", province="上海", email="liwei@gmail.com", phone="+8613912345678"
        )
        assert m.apply("webhook", linked, DIGEST).outcome == "linked"  # by name: filled in what z1 lacked
        m.split("webhook", "w1", "another Li Wei")
        view = m.directory.view(first.customer_id or 0)
        assert (view.email, view.phone) == (None, None)
        assert m.directory.find_by_email("liwei@gmail.com")[0].id != first.customer_id
        kinds = [event.kind for event in m.history(first.customer_id or 0)]
    assert "contact_split_off" in kinds


def test_each_customer_knows_the_backends_of_its_live_records_through_every_change(
    container: Container,
) -> None:
    with master(container) as m:
        a = m.apply("zoho", contact("z1", email="a@b.cn"), DIGEST).customer_id or 0
        m.apply("fxiaoke", contact("f1", email="a@b.cn"), DIGEST)  # linked by e-mail
        b = m.apply("webhook", contact("w1", email="w@c.cn"), DIGEST).customer_id or 0

        def backends() -> dict[int, frozenset[str]]:
            return {customer_id: m.directory.view(customer_id).backends for customer_id in (a, b)}

        assert backends() == {a: {"fxiaoke", "zoho"}, b: {"webhook"}}
        m.delete("zoho", "z1")
        assert backends()[a] == {"fxiaoke"}
        m.apply("zoho", contact("z1", email="a@b.cn", phone="+8613800138000"), DIGEST)  # back, edited
        assert backends()[a] == {"fxiaoke", "zoho"}
        split_off = m.split("fxiaoke", "f1").id
        assert backends()[a] == {"zoho"}
        assert m.directory.view(split_off).backends == {"fxiaoke"}
        m.merge(m.directory.view(b).account_no, m.directory.view(a).account_no)
        assert backends() == {a: frozenset(), b: {"webhook", "zoho"}}
        stored = m.session.scalars(select(Customer.bound_backends).order_by(Customer.id)).all()
    assert stored == ["", "webhook,zoho", "fxiaoke"]


def test_a_class_with_its_own_template_numbers_its_accounts_its_own_way(container: Container) -> None:
    data = POLICY.model_dump()
    data["types"][2]["account_number_template"] = "P{region}{seq:06}"
    policy = CustomerPolicy.model_validate(data)
    with master(container, policy) as m:
        applied = m.apply("zoho", contact("z1", province="北京"), DIGEST)  # no company: an individual
        assert m.directory.view(applied.customer_id or 0).account_no == "PBJ000001"


def test_value_tiers_follow_the_trailing_receipts_and_every_change_is_recorded(container: Container) -> None:
    with master(container) as m:
        big = m.apply("zoho", contact("z1", company="A"), DIGEST)
        small = m.apply("zoho", contact("z2", company="B"), DIGEST)
        big_no = m.directory.view(big.customer_id or 0).account_no
        small_no = m.directory.view(small.customer_id or 0).account_no
    with unit_of_work(container.sessions) as session:
        ledger = container.ledger(session)
        ledger.post_many([invoice("I1", big_no, "1200000")])
        ledger.post_many([receipt(f"R{n}", big_no, "200000", day=5 + n) for n in range(6)])
        ledger.post_many([receipt("S1", small_no, "150000"), receipt("S2", small_no, "10")])
        old = ledger.post(receipt("OLD", small_no, "5000000", day=1))
        ledger.reverse(old.entry_id, posting_date=date(2026, 3, 2), memo="entered twice")
    with master(container) as m:
        assert m.reclassify_tiers(CHART, date(2026, 12, 31)) == Counter(changed=2)
        assert m.directory.view(big.customer_id or 0).value_tier == "high"
        assert m.directory.view(small.customer_id or 0).value_tier == "medium"
        assert m.reclassify_tiers(CHART, date(2026, 12, 31)) == Counter(unchanged=2)
        assert m.reclassify_tiers(CHART, date(2027, 6, 1)) == Counter(changed=2)  # the window moved on
        assert m.directory.view(big.customer_id or 0).value_tier == "low"
        [tier_event, *_] = [e for e in m.history(big.customer_id or 0) if e.kind == "tier"]
        assert tier_event.detail == "none → high: paid 1,200,000.00 CNY in 6 payment(s) over 365 days"


def test_a_merged_customers_receipts_count_for_the_value_tier_of_the_customer_it_went_into(
    container: Container,
) -> None:
    with master(container) as m:
        absorbed = m.apply("zoho", contact("z1", company="A"), DIGEST)
        survivor = m.apply("zoho", contact("z2", company="B"), DIGEST)
        absorbed_no = m.directory.view(absorbed.customer_id or 0).account_no
        survivor_no = m.directory.view(survivor.customer_id or 0).account_no
    with unit_of_work(container.sessions) as session:
        ledger = container.ledger(session)
        ledger.post_many([invoice("I1", absorbed_no, "1200000")])
        ledger.post_many([receipt(f"R{n}", absorbed_no, "200000", day=5 + n) for n in range(6)])
    with master(container) as m:
        m.merge(survivor_no, absorbed_no, "the same company")
        m.reclassify_tiers(CHART, date(2026, 12, 31))
        assert m.directory.view(survivor.customer_id or 0).value_tier == "high"


def test_a_sync_run_records_its_mapping_set_and_quarantines_bad_records_once(container: Container) -> None:
    mappings, _ = load_mapping_set(REPO / "mappings")
    assert mappings is not None
    records = [
        ("f.csv row 2", {"id": "1", "Full_Name": "A"}),
        ("f.csv row 3", {"id": "2", "Email": "wang.wei-at-qq"}),
    ]
    first = sync_customers(container, mappings, "zoho_contacts", records, "customers.import")
    again = sync_customers(container, mappings, "zoho_contacts", records, "customers.import")
    assert (first, again) == (Counter(created=1, quarantined=1), Counter(unchanged=1, quarantined=1))
    with unit_of_work(container.sessions) as session:
        runs = session.scalars(select(SyncRun).order_by(SyncRun.id)).all()
        [held] = session.scalars(select(QuarantinedRecord)).all()
        raw = json.loads(container.cipher.decrypt("quarantine.raw", held.raw_enc))
    assert [(run.status, run.mapping_digest) for run in runs] == [("succeeded", mappings.digest)] * 2
    assert json.loads(runs[0].counts_json) == {"created": 1, "quarantined": 1}
    assert (held.record_ref, held.attempts, raw["Email"]) == ("f.csv row 3", 2, "wang.wei-at-qq")
    assert "Full_Name: a value is required" in held.reason
    assert "email: Email: not an e-mail address" in held.reason
    assert "wang.wei" not in held.reason  # stored in clear: the personal value stays in the encrypted raw


def test_a_webhook_delivered_late_does_not_overwrite_what_a_newer_one_said(container: Container) -> None:
    mappings, _ = load_mapping_set(REPO / "mappings")
    assert mappings is not None

    def event(at: str, email: str) -> dict[str, Any]:
        return {
            "type": "contact.updated",
            "timestamp": at,
            "data": {"id": "c1", "name": "明远贸易", "email": email},
        }

    newer, older = (
        event("2026-03-01T10:05:00+08:00", "new@acme.cn"),
        event("2026-03-01T10:00:00+08:00", "old@acme.cn"),
    )
    sync_customers(container, mappings, "webhook_customers", [("d1", newer)], "webhook")

    late = sync_customers(container, mappings, "webhook_customers", [("d2", older)], "webhook")

    assert late == Counter(stale=1)
    with master(container) as m:
        (customer,) = m.directory.all()
    assert customer.email == "new@acme.cn"


@pytest.mark.parametrize("batched", [False, True])
def test_an_e_mail_of_a_customer_merged_away_identifies_the_one_it_went_into(
    container: Container, batched: bool
) -> None:
    with master(container) as m:
        first = m.apply("zoho", contact("a1", company="明远", email="info@mingyuan.cn"), DIGEST)
        second = m.apply("zoho", contact("a2", company="明远", email="sales@mingyuan-tech.com"), DIGEST)
        survivor = m.directory.view(first.customer_id or 0).account_no
        merge(m, survivor, m.directory.view(second.customer_id or 0).account_no, "one company")
    arriving = contact("w1", name="明远科技 Co., Ltd.", company="明远", email="sales@mingyuan-tech.com")
    other = contact("w2", company="星河", email="hello@xinghe.cn")  # a batch of two goes the batch's way
    with master(container) as m:
        if batched:
            applied, _ = m.apply_many("webhook", [arriving, other], DIGEST)
        else:
            applied = m.apply("webhook", arriving, DIGEST)
    assert (applied.outcome, applied.customer_id) == ("linked", first.customer_id)


@pytest.mark.parametrize("batched", [False, True])
def test_an_older_version_of_a_record_held_for_review_changes_nothing_held(
    container: Container, batched: bool
) -> None:
    with master(container) as m:
        m.apply("zoho", contact("c1", email="info@acme.cn"), DIGEST)
        newer = contact(
            "c2", email="info@acme.cn", phone="+8613800138000", modified_at="2026-03-02T10:00:00+08:00"
        )
        assert m.apply("zoho", newer, DIGEST).outcome == "review"
    older = newer | {"phone": "+8613900000000", "modified_at": "2026-03-01T10:00:00+08:00"}
    with master(container) as m:
        if batched:
            applied, _ = m.apply_many("zoho", [older, contact("c3", email="x@y.cn")], DIGEST)
        else:
            applied = m.apply("zoho", older, DIGEST)
        [review] = m.reviews()
        held = json.loads(m.cipher.decrypt(REVIEW_RECORD, review.record_enc))
    assert applied.outcome == "stale"
    assert "before the version held for review" in applied.reason
    assert held["phone"] == "+8613800138000"


def test_one_company_written_in_capitals_in_another_system_goes_to_a_person_not_a_second_customer(
    container: Container,
) -> None:
    with master(container) as m:
        m.apply("zoho", contact("z1", name="Nordic Foods AB", province="上海"), DIGEST)
        held = m.apply("fxiaoke", contact("FX-1", name="NORDIC FOODS AB", province="上海"), DIGEST)
        assert held.outcome == "review"
        assert m.session.scalar(select(func.count()).select_from(Customer)) == 1


def test_a_search_finds_a_customer_by_the_name_or_company_of_a_source_record_bound_to_it(
    container: Container,
) -> None:
    with master(container) as m:
        created = m.apply("zoho", contact("z1", name="张伟", email="zhang@mingyuan.cn"), DIGEST)
        linked = m.apply(
            "webhook",
            contact(
                "w1", name="Zhang Wei", company="上海明远贸易有限公司 Mingyuan", email="zhang@mingyuan.cn"
            ),
            DIGEST,
        )
        m.apply("zoho", contact("z2", name="李娜", email="li@other.cn"), DIGEST)
    assert (created.outcome, linked.outcome) == ("created", "linked")
    with master(container) as m:
        by_company = [c.name for c in m.directory.listed("明远")]
        by_width_and_case = [c.name for c in m.directory.listed("ＭＩＮＧＹＵＡＮ")]
        by_record_name = [c.name for c in m.directory.listed("zhang wei")]
        by_none = m.directory.listed("明远", limit=1, status="inactive")
    assert by_company == by_width_and_case == by_record_name == ["张伟"]
    assert by_none == []
