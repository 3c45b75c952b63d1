"""Identity resolution: which customer an incoming record is, or why a person has to decide.

The rules run in the policy's order (external id per backend, then e-mail, phone, normalised name with
region). The first rule that finds anybody decides. It links the record only when it found exactly one
customer, that customer has no other record from the same backend, and no stronger identifier present
on both sides disagrees; anything else goes to the review queue. Nothing is merged silently.

A name is the weakest identifier: many people share one (王伟 in Shanghai). It links records across
backends (the CRM's contact to the ERP's customer); it does not second-guess a backend about its own
records. So a namesake is not a candidate at all — the record becomes a customer of its own instead of
filling the review queue — when it already has a record from the same backend (the backend keeps the
two apart), or when its e-mail address differs from the record's at another domain or at a personal
mail provider (qq.com, 163.com, gmail.com …). Differing addresses at one organisation's domain
(old@acme.cn, new@acme.cn) may be the same company or person and still go to review.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import phonenumbers

from connector.security.cipher import normalise_for_index

# What every change of who-is-which-customer (an intake applying records, a merge) serializes on
# (`connector.db.serialize`): one decides from what the other wrote, never beside it.
IDENTITY_LOCK = "customer identity"

Outcome = Literal["bound", "matched", "new", "review"]

# Mail providers whose addresses belong to one person each, not to an organisation.
PERSONAL_MAIL_DOMAINS = frozenset(
    {
        "qq.com",
        "foxmail.com",
        "163.com",
        "126.com",
        "yeah.net",
        "sina.com",
        "sina.cn",
        "sohu.com",
        "139.com",
        "189.cn",
        "aliyun.com",
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.co.jp",
        "icloud.com",
        "me.com",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "t-online.de",
        "naver.com",
        "rediffmail.com",
    }
)
_NOT_WORD = re.compile(r"[\W_]+")
# Legal forms that differ between sources for the same company ("ACME Co., Ltd." vs "ACME", a bank's
# "ACME PTE LTD"): whole words at the end after the name's first word, never the end of a word ("Zinc"
# keeps its "inc"). Forms that are also words or syllables (Sa, Se, As, Spa: "Wang Sa", "Hotel & Spa")
# count only dotted (S.A., s.a., S.p.A.), or in capitals within a name written in mixed case (Acme SA);
# in a name all in capitals (a bank's WANG SA) or all in small letters they stay part of it: two names
# then differ where they might be one, never the other way round.
_SURE = (
    r"co|company|corp|corporation|inc|incorporated|ltd|limited|liability|llc|llp|lp|plc|gmbh|mbh|ag|kg"
    r"|kgaa|sarl|srl|bv|nv|pte|pty|pvt|asa|kk"
)
_SURE_FORMS = re.compile(rf"(?:[\W_]+(?:{_SURE}))+[\W_]*$", re.IGNORECASE)
_AMBIGUOUS = "SE|SA|SAS|SpA|SPA|OY|AB|AS"
_ANY_CASE_FORMS = re.compile(rf"(?:[\W_]+(?:{_SURE}|{_AMBIGUOUS}))+[\W_]*$", re.IGNORECASE)
_MIXED_CASE_FORMS = re.compile(rf"(?:[\W_]+(?:(?i:{_SURE})|(?-i:{_AMBIGUOUS})))+[\W_]*$", re.IGNORECASE)
# A dotted ambiguous form at the end reads as a sure one: S.A., s.a., S.p.A., A.S., O.Y. are no syllables;
# one after a single dotted letter ends an abbreviation (the S.A. of U.S.A.), kept.
_DOTTED_FORM = re.compile(
    r"(?<=[\W_])(?<!\b\w\.)"
    r"(?:s\.\s?p\.\s?a|s\.\s?a\.\s?s|s\.\s?a|s\.\s?e|o\.\s?y|a\.\s?b|a\.\s?s)\.?(?=[\W_]*$)",
    re.I,
)
_TRAILING = re.compile(r"[\W_]+$")  # punctuation after the name (a full stop, a quote, a zero-width space)
_CJK_FORMS = ("股份有限公司", "有限责任公司", "有限公司", "公司", "株式会社")
_DOTTED_LETTERS = re.compile(r"\b([a-z])\.(?=[a-z]\b)", re.IGNORECASE)  # B.V., K.K.: one word each


@functools.lru_cache(maxsize=65_536)  # payers and records repeat through a file
def name_core(name: str) -> str:
    """A company's or person's name as identity and matching compare it: full-width folded, case and
    punctuation ignored, legal forms at the end (Co., Ltd., GmbH & Co. KG, S.A., Pte. Ltd., 有限公司, 公司 …)
    left out as whole words ("北京青禾科技有限公司" and "北京青禾科技公司" are both 北京青禾科技; "Shanghai
    Zinc Co., Ltd." is shanghaizinc, never "Shanghai Z Inc.")."""
    text = unicodedata.normalize("NFKC", name).strip().removeprefix("株式会社")
    mixed = any(char.islower() for char in text) and any(char.isupper() for char in text)
    return _core(text, _MIXED_CASE_FORMS if mixed else _SURE_FORMS)


@functools.lru_cache(maxsize=65_536)
def name_variant(name: str) -> str | None:
    """The other core a name may have when it ends in a form that is also a word or syllable (Nordic
    Foods AB written NORDIC FOODS AB in another system, Wang Sa beside Wang Se): its core with that form
    left out where `name_core` keeps it, or kept where it leaves it out; None when the two agree. A
    customer found only by it is never the record's for sure: a person says."""
    text = unicodedata.normalize("NFKC", name).strip().removeprefix("株式会社")
    core = name_core(name)
    for forms in (_ANY_CASE_FORMS, _SURE_FORMS):
        other = _core(text, forms)
        if other != core:
            return other
    return None


def _core(text: str, forms: re.Pattern[str]) -> str:
    text = _DOTTED_LETTERS.sub(r"\1", _DOTTED_FORM.sub("Ltd", text))
    while True:
        shorter = forms.sub("", _TRAILING.sub("", text))
        for form in _CJK_FORMS:
            shorter = shorter.removesuffix(form)
        if shorter == text or not shorter:
            break
        text = shorter
    return _NOT_WORD.sub("", text.casefold())


# A bracketed qualifier in a company's name, most often a place: 明远国际贸易（香港）有限公司 is the Hong Kong
# company beside its mainland namesake, ACME (Europe) Ltd another than ACME Ltd. Brackets holding a legal
# or group form (（集团）, （有限合伙）, (Pty)) qualify nothing.
_BRACKETED = re.compile(r"[(\[【〔]([^()\[\]【】〔〕]*)[)\]】〕]")
_FORMS_IN_BRACKETS = re.compile(
    rf"(?:{_SURE}|{_AMBIGUOUS}|private|集团|普通合伙|有限合伙|特殊普通合伙)", re.I
)
_ONE_PLACE = {  # a place's names in either script: one qualifier
    "hk": "香港",
    "hongkong": "香港",
    "hksar": "香港",
    "macau": "澳门",
    "macao": "澳门",
    "澳門": "澳门",
    "taiwan": "台湾",
    "台灣": "台湾",
    "china": "中国",
    "prc": "中国",
}


@functools.lru_cache(maxsize=65_536)
def name_qualifiers(name: str) -> frozenset[str]:
    """The bracketed qualifiers of a name, as compared (case, width and punctuation aside, a place named
    in English or Chinese alike: (HK) is （香港）). Names that `name_core` finds alike are one only when
    these are the same: a bracketed place identifies (the Hong Kong company is not the mainland one)."""
    found = set()
    for inner in _BRACKETED.findall(unicodedata.normalize("NFKC", name)):
        word = _NOT_WORD.sub("", inner.casefold())
        if word and not _FORMS_IN_BRACKETS.fullmatch(word):
            found.add(_ONE_PLACE.get(word, word))
    return frozenset(found)


@dataclass(frozen=True)
class Incoming:
    """The identifying fields of a mapped source record (already normalised by the mapping)."""

    backend: str
    external_id: str
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A customer a rule found, with what the conflict checks compare."""

    customer_id: int
    email: str | None
    phone: str | None
    backends: frozenset[str]  # backends with an active binding to this customer


@dataclass(frozen=True)
class Resolution:
    outcome: Outcome
    customer_id: int | None = None
    rule: str | None = None
    candidates: tuple[int, ...] = ()
    reason: str = ""


class IdentityLookup(Protocol):
    def bound(self, backend: str, external_id: str) -> int | None: ...
    def by_email(self, email: str) -> Sequence[Candidate]: ...
    def by_phone(self, phone: str) -> Sequence[Candidate]: ...
    def by_name_region(
        self, name: str, region: str, backend: str, core: str | None = None
    ) -> Sequence[Candidate]:
        """Namesakes in `region` (by `core` instead of `name_core(name)` when given); those bound to
        `backend` may be left out (the rule skips them)."""
        ...


_LABELS = {"email": "e-mail", "phone": "phone", "name_region": "name and region"}


def rules_asked(incoming: Incoming, order: Sequence[str]) -> tuple[str, ...]:
    """The rules that look for customers for this record, in order: those whose identifiers it has
    (`external_id` aside). A record that is not bound and for which none of them finds anybody is new."""
    return tuple(rule for rule in order if _asks(rule, incoming))


@functools.lru_cache(maxsize=4096)
def identifies(phone: str | None) -> bool:
    """Whether an E.164 number can tell one customer from another: a valid number of its country's plan.
    A placeholder CRMs hold for "no number" (0000 0000) or a short one is merely possible, and strangers
    share it. Asked only when a number finds somebody (phonenumbers' check costs ~17 µs)."""
    try:
        return phone is not None and phonenumbers.is_valid_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        return False


def _asks(rule: str, incoming: Incoming) -> bool:
    if rule == "email":
        return bool(incoming.email)
    if rule == "phone":
        return bool(incoming.phone)
    return rule == "name_region" and bool(incoming.name) and bool(incoming.region)


def _candidates(rule: str, incoming: Incoming, lookup: IdentityLookup) -> Sequence[Candidate]:
    if not _asks(rule, incoming):
        return ()
    if rule == "email":
        return lookup.by_email(incoming.email or "")
    if rule == "phone":
        found = lookup.by_phone(incoming.phone or "")
        return found if found and identifies(incoming.phone) else ()
    found = lookup.by_name_region(incoming.name or "", incoming.region or "", incoming.backend)
    return [candidate for candidate in found if not _namesake(incoming, candidate)]


def _namesake(incoming: Incoming, candidate: Candidate) -> bool:
    """Somebody else of the same name: another record of the same backend, or another e-mail address
    at a personal mail provider or at another domain."""
    if incoming.backend in candidate.backends:
        return True
    if not (incoming.email and candidate.email) or _same(incoming.email, candidate.email, "email"):
        return False
    domain = incoming.email.rpartition("@")[2]
    return domain in PERSONAL_MAIL_DOMAINS or domain != candidate.email.rpartition("@")[2]


def _same(ours: str, theirs: str, kind: str) -> bool:
    """Whether two e-mails (or phones) are one, as their blind indexes compare them (li+shop@ is li@)."""
    return ours == theirs or normalise_for_index(kind, ours) == normalise_for_index(kind, theirs)


def _conflict(rule: str, order: Sequence[str], incoming: Incoming, candidate: Candidate) -> str | None:
    if incoming.backend in candidate.backends:
        return f"the customer already has another {incoming.backend} record"
    for stronger in order[: order.index(rule)]:
        if stronger not in ("email", "phone"):
            continue
        ours, theirs = getattr(incoming, stronger), getattr(candidate, stronger)
        if (
            ours
            and theirs
            and not _same(ours, theirs, stronger)
            and (stronger != "phone" or (identifies(ours) and identifies(theirs)))
        ):
            return f"same {_LABELS[rule]} but a different {_LABELS[stronger]}"
    return None


def resolve(incoming: Incoming, order: Sequence[str], lookup: IdentityLookup) -> Resolution:
    customer_id = lookup.bound(incoming.backend, incoming.external_id)
    if customer_id is not None:
        return Resolution("bound", customer_id, "external_id")
    for rule in order:
        if rule == "external_id":
            continue
        found = _candidates(rule, incoming, lookup)
        if not found:
            continue
        ids = tuple(sorted({candidate.customer_id for candidate in found}))
        if len(ids) > 1:
            return Resolution("review", None, rule, ids, f"{len(ids)} customers share this {_LABELS[rule]}")
        conflict = _conflict(rule, order, incoming, found[0])
        if conflict is not None:
            return Resolution("review", None, rule, ids, conflict)
        return Resolution("matched", ids[0], rule, ids, f"same {_LABELS[rule]}")
    alike = _namesakes_but_for_a_form(incoming, order, lookup)
    if alike:
        why = "the same name but for a legal form that may be a word of it (AB, SA, SE …): the same company?"
        return Resolution("review", None, "name_region", alike, why)
    return Resolution("new", reason="no rule found a customer")


def _namesakes_but_for_a_form(
    incoming: Incoming, order: Sequence[str], lookup: IdentityLookup
) -> tuple[int, ...]:
    """Customers the name-and-region rule would find by the name's other core (`name_variant`)."""
    if "name_region" not in order or not _asks("name_region", incoming):
        return ()
    variant = name_variant(incoming.name or "")
    if variant is None:
        return ()
    found = lookup.by_name_region(incoming.name or "", incoming.region or "", incoming.backend, core=variant)
    return tuple(sorted({c.customer_id for c in found if not _namesake(incoming, c)}))
