"""Credentials: what a Google Ads connection must hold, and secrets kept out of reprs."""

from __future__ import annotations

import pytest

from spectra.ads.client import AdsConfigError, AdsCredentials


def test_oauth_credentials_for_google() -> None:
    creds = AdsCredentials.from_mapping(
        {
            "developer_token": "d",
            "client_id": "id",
            "client_secret": "s3cret",
            "refresh_token": "r3fresh",
            "login_customer_id": "123-456-7890",
        }
    )
    assert creds.endpoint == "googleads.googleapis.com"
    assert creds.login_customer_id == "1234567890"
    assert "s3cret" not in repr(creds) and "r3fresh" not in repr(creds)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"client_id": "a", "client_secret": "b", "refresh_token": "c"}, "no developer_token"),
        (
            {"developer_token": "d", "client_id": "a"},
            "needs OAuth client_id, client_secret and refresh_token",
        ),
        (
            {"developer_token": "d", "access_token": "t", "colour": "blue"},
            "unknown Google Ads connection fields: colour",
        ),
    ],
)
def test_incomplete_connection_is_a_clear_error(data: dict, message: str) -> None:
    with pytest.raises(AdsConfigError, match=message):
        AdsCredentials.from_mapping(data)


def test_sandbox_clock_flag_parses_strings() -> None:
    assert AdsCredentials.from_mapping(
        {"developer_token": "d", "access_token": "t", "sandbox_clock": "true"}
    ).sandbox_clock
    assert not AdsCredentials.from_mapping(
        {"developer_token": "d", "access_token": "t", "sandbox_clock": "false"}
    ).sandbox_clock
