"""Whether two bank lines name one payer: accounts first, then names as banks write them, then references."""

from __future__ import annotations

import pytest

from connector.imports.payer import Payer


@pytest.mark.parametrize(
    ("one", "another"),
    [
        ("Müller GmbH", "MUELLER GMBH"),  # transliterated: SEPA's character set has no ü
        ("Müller GmbH", "MULLER GMBH"),  # its accent dropped
        ("Société Générale", "SOCIETE GENERALE"),
        ("Alpha Maschinen Vertriebs GmbH & Co. KG", "ALPHA MASCHINEN VERTRIEBS G"),  # cut at 27
    ],
)
def test_a_name_as_a_bank_writes_it_is_the_same_payer(one: str, another: str) -> None:
    assert not Payer(one).plainly_not(Payer(another))
    assert Payer(one, references=("E2E-4711",)).same_as(Payer(another, references=("E2E-4711",)))


def test_names_that_differ_beyond_spelling_are_two_payers_whatever_reference_they_share() -> None:
    assert Payer("Müller GmbH").plainly_not(Payer("Meier GmbH"))
    assert not Payer("Müller GmbH", references=("Beitrag 2026",)).same_as(
        Payer("Meier GmbH", references=("Beitrag 2026",))
    )


def test_two_bank_accounts_are_two_payers_and_one_account_is_one() -> None:
    assert Payer("Müller", "DE89 3704 0044 0532 0130 00").plainly_not(
        Payer("Müller", "DE02120300000000202051")
    )
    assert Payer("Müller", "DE89 3704 0044 0532 0130 00").same_as(Payer("Meier", "DE89370400440532013000"))


def test_a_name_a_bank_spelt_otherwise_or_cut_short_is_that_name_but_a_short_name_is_not_a_longer_ones() -> (
    None
):
    assert Payer("Alpha Maschinen Vertriebs GmbH & Co. KG").same_as(Payer("ALPHA MASCHINEN VERTRIEBS G"))
    assert Payer("Müller GmbH").same_as(Payer("MUELLER GMBH"))
    assert not Payer("Schneider").same_as(Payer("Schneider Elektro GmbH"))
    assert not Payer("Müller Maschinenbau GmbH").same_as(Payer("Müller Maschinenbau GmbH & Co. KG"))
