from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from connector.master.identity import Candidate, Incoming, identifies, name_core, name_qualifiers, resolve

ORDER = ("external_id", "email", "phone", "name_region")


@dataclass
class FakeLookup:
    bindings: dict[tuple[str, str], int] = field(default_factory=dict)
    emails: dict[str, list[Candidate]] = field(default_factory=dict)
    phones: dict[str, list[Candidate]] = field(default_factory=dict)
    names: dict[tuple[str, str], list[Candidate]] = field(default_factory=dict)

    def bound(self, backend: str, external_id: str) -> int | None:
        return self.bindings.get((backend, external_id))

    def by_email(self, email: str) -> Sequence[Candidate]:
        return self.emails.get(email, [])

    def by_phone(self, phone: str) -> Sequence[Candidate]:
        return self.phones.get(phone, [])

    def by_name_region(
        self, name: str, region: str, backend: str, core: str | None = None
    ) -> Sequence[Candidate]:
        return self.names.get((core if core is not None else name_core(name), region), [])


def candidate(
    customer_id: int, email: str | None = None, phone: str | None = None, *backends: str
) -> Candidate:
    return Candidate(customer_id, email, phone, frozenset(backends))


def test_a_bound_record_is_its_customer_whatever_else_matches() -> None:
    lookup = FakeLookup(bindings={("zoho", "1"): 7}, emails={"a@x.cn": [candidate(8), candidate(9)]})
    resolution = resolve(Incoming("zoho", "1", email="a@x.cn"), ORDER, lookup)
    assert (resolution.outcome, resolution.customer_id) == ("bound", 7)


def test_a_record_from_another_crm_links_by_email() -> None:
    lookup = FakeLookup(emails={"li@acme.cn": [candidate(7, "li@acme.cn", None, "zoho")]})
    resolution = resolve(Incoming("fxiaoke", "FX-1", email="li@acme.cn"), ORDER, lookup)
    assert (resolution.outcome, resolution.customer_id, resolution.rule) == ("matched", 7, "email")


@pytest.mark.parametrize(
    "placeholder", ["+860000000", "+8600000000000", "+8612345", "+8688888888", "+861234567"]
)
def test_a_placeholder_or_short_phone_never_links_strangers(placeholder: str) -> None:
    lookup = FakeLookup(phones={placeholder: [candidate(8, None, placeholder, "zoho")]})
    resolution = resolve(Incoming("webhook", "w1", phone=placeholder, name="Beta 贸易"), ORDER, lookup)
    assert resolution.outcome == "new"
    assert identifies("+8613800138000")
    assert identifies("+14155550123")


def test_the_first_rule_that_finds_somebody_decides() -> None:
    lookup = FakeLookup(
        emails={"li@acme.cn": [candidate(7, "li@acme.cn")]},
        phones={"+8613800138000": [candidate(8, None, "+8613800138000")]},
    )
    incoming = Incoming("webhook", "w1", email="li@acme.cn", phone="+8613800138000")
    assert resolve(incoming, ORDER, lookup).customer_id == 7
    assert resolve(incoming, ("external_id", "phone", "email"), lookup).customer_id == 8


def test_several_customers_sharing_an_email_go_to_review() -> None:
    lookup = FakeLookup(emails={"info@acme.cn": [candidate(3), candidate(5)]})
    resolution = resolve(Incoming("zoho", "9", email="info@acme.cn"), ORDER, lookup)
    assert (resolution.outcome, resolution.candidates) == ("review", (3, 5))
    assert resolution.reason == "2 customers share this e-mail"


def test_a_customer_with_another_record_from_the_same_crm_goes_to_review() -> None:
    lookup = FakeLookup(emails={"li@acme.cn": [candidate(7, "li@acme.cn", None, "zoho")]})
    resolution = resolve(Incoming("zoho", "2", email="li@acme.cn"), ORDER, lookup)
    assert resolution.outcome == "review"
    assert resolution.reason == "the customer already has another zoho record"


def test_a_name_match_whose_email_disagrees_goes_to_review() -> None:
    lookup = FakeLookup(names={("acme", "SH"): [candidate(4, "old@acme.cn")]})
    resolution = resolve(
        Incoming("zoho", "3", email="new@acme.cn", name="ACME Co., Ltd.", region="SH"), ORDER, lookup
    )
    assert (resolution.outcome, resolution.reason) == (
        "review",
        "same name and region but a different e-mail",
    )


def test_a_name_match_links_when_nothing_stronger_disagrees() -> None:
    lookup = FakeLookup(names={("明远贸易", "SH"): [candidate(4, "old@acme.cn")]})
    resolution = resolve(Incoming("zoho", "3", name="明远贸易有限公司", region="SH"), ORDER, lookup)
    assert (resolution.outcome, resolution.customer_id, resolution.rule) == ("matched", 4, "name_region")


def test_a_record_nobody_matches_is_new() -> None:
    resolution = resolve(
        Incoming("zoho", "1", email="x@y.cn", phone="+861", name="N", region="SH"), ORDER, FakeLookup()
    )
    assert resolution.outcome == "new"


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("ACME Co., Ltd.", "acme"),
        ("Acme Company Limited", "acme"),
        ("ＡＣＭＥ  Inc.", "acme"),
        ("上海明远贸易有限公司", "上海明远贸易"),
        ("株式会社ソニー", "ソニー"),
        ("Ltd", "ltd"),
        ("Mingyuan Trading Company Ltd.", "mingyuantrading"),
        ("Mingyuan Trading Co.", "mingyuantrading"),
        ("Acme Pte. Ltd.", "acme"),
        ("Acme GmbH & Co. KG", "acme"),
        ("Acme S.A.", "acme"),
        ("Toyota Motor Sales, U.S.A.", "toyotamotorsalesusa"),  # an abbreviation's end is no legal form
        ("Toyota Motor Sales, U.S.A., Inc.", "toyotamotorsalesusa"),
        ("Acme (U.S.A.)", "acmeusa"),
        ("ACME CIA.S.A.", "acmecia"),  # after a dotted word, S.A. is the form
        ("ACME CIA. S.A.", "acmecia"),
        ("Acme Limited Liability Company", "acme"),
        ("北京青禾科技公司", "北京青禾科技"),
        ("北京青禾科技有限公司。", "北京青禾科技"),  # punctuation after the legal form
        ("ACME Co., Ltd。", "acme"),
        ('"ACME Ltd."', "acme"),
        ("ACME Ltd;", "acme"),
        ("ACME Ltd\u200b", "acme"),
    ],
)
def test_names_match_ignoring_legal_form_width_case_and_punctuation(name: str, normalised: str) -> None:
    assert name_core(name) == normalised


@pytest.mark.parametrize(
    ("one", "another"),
    [
        ("Shanghai Zinc Co., Ltd.", "Shanghai Z Inc."),
        ("Sound Unlimited", "Sound UN Ltd"),
        ("Cosco", "Cos Co"),
    ],
)
def test_a_legal_form_is_left_out_only_as_a_whole_word_so_other_companies_stay_apart(
    one: str, another: str
) -> None:
    assert name_core(one) != name_core(another)


def test_a_persons_name_match_with_other_contact_details_is_somebody_else() -> None:
    lookup = FakeLookup(names={("王伟", "SH"): [candidate(4, "wang.wei@a.cn")]})
    resolution = resolve(
        Incoming("zoho", "3", email="wei.wang@b.cn", name="王伟", region="SH"), ORDER, lookup
    )
    assert (resolution.outcome, resolution.reason) == ("new", "no rule found a customer")


def test_a_namesake_with_a_record_from_the_same_backend_is_somebody_else() -> None:
    lookup = FakeLookup(names={("王伟", "SH"): [candidate(4, "wang.wei@a.cn", None, "zoho")]})
    resolution = resolve(Incoming("zoho", "3", name="王伟", region="SH"), ORDER, lookup)
    assert (resolution.outcome, resolution.reason) == ("new", "no rule found a customer")


def test_a_name_match_across_backends_with_nothing_to_compare_links() -> None:
    lookup = FakeLookup(names={("王伟", "SH"): [candidate(4, "wang.wei@a.cn", None, "fxiaoke")]})
    resolution = resolve(Incoming("zoho", "3", name="王伟", region="SH"), ORDER, lookup)
    assert (resolution.outcome, resolution.customer_id) == ("matched", 4)


def test_several_namesakes_from_other_backends_go_to_review() -> None:
    namesakes = [
        candidate(4, None, None, "fxiaoke"),
        candidate(6, None, None, "webhook"),
        candidate(8, None, None, "zoho"),
    ]
    lookup = FakeLookup(names={("王伟", "SH"): namesakes})
    resolution = resolve(Incoming("zoho", "3", name="王伟", region="SH"), ORDER, lookup)
    assert (resolution.outcome, resolution.candidates) == ("review", (4, 6))


def test_namesakes_with_their_own_personal_mailboxes_are_different_people() -> None:
    lookup = FakeLookup(names={("王伟", "SH"): [candidate(4, "wangwei88@qq.com")]})
    resolution = resolve(
        Incoming("zoho", "3", email="wangwei1990@qq.com", name="王伟", region="SH"), ORDER, lookup
    )
    assert resolution.outcome == "new"


@pytest.mark.parametrize(
    ("known", "written"), [("Nordic Foods AB", "NORDIC FOODS AB"), ("TELEFONICA SA", "Telefonica SA")]
)
def test_a_name_differing_only_by_a_form_that_may_be_a_word_goes_to_a_person(
    known: str, written: str
) -> None:
    lookup = FakeLookup(names={(name_core(known), "SH"): [candidate(5, None, None, "zoho")]})
    resolution = resolve(Incoming("fxiaoke", "FX-1", name=written, region="SH"), ORDER, lookup)
    assert (resolution.outcome, resolution.candidates) == ("review", (5,))
    assert "legal form that may be a word" in resolution.reason


def test_wang_sa_is_never_wang_se_nor_sent_to_a_person_for_it() -> None:
    lookup = FakeLookup(names={(name_core("Wang Se"), "SH"): [candidate(5, None, None, "zoho")]})
    assert resolve(Incoming("fxiaoke", "FX-1", name="WANG SA", region="SH"), ORDER, lookup).outcome == "new"


@pytest.mark.parametrize(
    ("name", "qualifiers"),
    [
        ("浙江宁波华东进出口贸易（香港）有限公司", {"香港"}),
        ("Mingyuan Trading (Hong Kong) Limited", {"香港"}),  # a place named in English or Chinese alike
        ("Mingyuan Trading (H.K.) Ltd", {"香港"}),
        ("明远国际贸易（澳門）有限公司", {"澳门"}),
        ("ACME (Europe) GmbH", {"europe"}),
        ("浙江宁波华东进出口贸易有限公司", set()),
        ("浙江华东（集团）有限公司", set()),  # a group or legal form in brackets qualifies nothing
        ("ACME (Pty) Ltd", set()),
    ],
)
def test_a_bracketed_place_in_a_name_is_its_qualifier_and_a_legal_form_in_brackets_is_none(
    name: str, qualifiers: set[str]
) -> None:
    assert name_qualifiers(name) == qualifiers
