"""Reading Zoho's notification callbacks and checking their tokens, without ever showing a token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.sync.channels import ChannelRequest, expiry_from, new_channel_id, new_token
from connector.sync.notifications import Callback, parse_callback, token_matches

TOKEN = "TOKEN_FOR_VERIFICATION_OF_1000000068001"
ZOHO_BODY = {
    "server_time": 1718117126473,
    "query_params": {},
    "module": "Leads",
    "resource_uri": "https://www.zohoapis.com/crm/v2/Leads",
    "ids": ["5725767000003000064"],
    "affected_fields": [],
    "operation": "insert",
    "channel_id": "1000000068001",
    "token": TOKEN,
}


def test_zohos_documented_callback_body_is_read() -> None:
    callback = parse_callback(ZOHO_BODY)
    assert callback == Callback(
        "1000000068001", TOKEN, "Leads", "insert", ("5725767000003000064",), 1718117126473
    )


def test_a_callback_never_shows_its_token() -> None:
    callback = parse_callback(ZOHO_BODY)
    assert TOKEN not in repr(callback)
    assert TOKEN not in str(callback)


def test_numeric_channel_ids_and_record_ids_are_read_as_text_and_repeated_ids_once() -> None:
    callback = parse_callback({**ZOHO_BODY, "channel_id": 1000000068001, "ids": [1, "1", "2"]})
    assert callback.channel_id == "1000000068001"
    assert callback.ids == ("1", "2")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], "not a JSON object"),
        ({**ZOHO_BODY, "channel_id": None}, "channel_id"),
        ({**ZOHO_BODY, "channel_id": "abc"}, "channel_id"),
        ({**ZOHO_BODY, "module": ""}, "module"),
        ({**ZOHO_BODY, "operation": None}, "operation"),
        ({**ZOHO_BODY, "ids": "5725767000003000064"}, "ids"),
        ({**ZOHO_BODY, "ids": [{"id": "1"}]}, "ids"),
        ({**ZOHO_BODY, "operation": "upd\u0000ate"}, "control characters or broken Unicode"),
        ({**ZOHO_BODY, "module": "\ud800"}, "control characters or broken Unicode"),
        ({**ZOHO_BODY, "server_time": 2**70}, "server_time is out of range"),
    ],
)
def test_a_body_that_is_not_a_callback_is_refused_without_quoting_the_token(
    body: object, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason) as refused:
        parse_callback(body)
    assert TOKEN not in str(refused.value)


def test_a_callback_without_a_token_carries_an_empty_one_that_never_matches() -> None:
    callback = parse_callback({k: v for k, v in ZOHO_BODY.items() if k != "token"})
    assert callback.token == ""
    assert not token_matches(TOKEN, callback.token)


def test_only_the_channels_own_token_matches() -> None:
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(TOKEN, TOKEN[:-1])
    assert not token_matches(TOKEN, TOKEN + "x")
    assert not token_matches(TOKEN, "")


def test_a_forged_token_that_is_no_text_at_all_is_a_mismatch_not_an_error() -> None:
    assert not token_matches(TOKEN, "\ud800")


def test_an_unknown_channel_matches_no_token_not_even_the_placeholder_it_is_compared_with() -> None:
    assert not token_matches(None, "x" * 48)
    assert not token_matches(None, "")


def test_new_tokens_are_random_and_fit_zohos_50_characters() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) <= 50 for t in tokens)


def test_channel_ids_are_18_digit_numbers_and_requests_hide_their_token() -> None:
    channel_id = new_channel_id()
    assert channel_id.isdigit()
    assert len(channel_id) == 18
    request = ChannelRequest(channel_id, ("Contacts.all",), "https://x/zoho/notify", TOKEN, datetime.now(UTC))
    assert TOKEN not in repr(request)


def test_a_new_expiry_stays_just_inside_zohos_one_week() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    expiry = expiry_from(now)
    assert timedelta(days=6, hours=23) < expiry - now < timedelta(days=7)
