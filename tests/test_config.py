from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import ZOHO_DATA_CENTERS, Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("ZOHO_DATA_CENTER", "ZOHO_PEOPLE_URL", "ZOHO_ACCOUNTS_URL", "ISPRING_API_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    s = Settings()
    assert s.zoho_people_url == "https://people.zoho.com"
    assert s.zoho_accounts_url == "https://accounts.zoho.com"
    assert s.ispring_api_url == "https://api-learn.ispringlearn.com"
    assert s.database_url.startswith("sqlite:///")
    assert (s.lms_rate_limit, s.lms_rate_window_seconds, s.lms_lock_seconds) == (30, 60, 300)


@pytest.mark.parametrize(
    ("dc", "people", "accounts"),
    [
        ("eu", "https://people.zoho.eu", "https://accounts.zoho.eu"),
        ("EU", "https://people.zoho.eu", "https://accounts.zoho.eu"),
        ("in", "https://people.zoho.in", "https://accounts.zoho.in"),
        ("com.au", "https://people.zoho.com.au", "https://accounts.zoho.com.au"),
        ("au", "https://people.zoho.com.au", "https://accounts.zoho.com.au"),
        ("jp", "https://people.zoho.jp", "https://accounts.zoho.jp"),
        ("ca", "https://people.zohocloud.ca", "https://accounts.zohocloud.ca"),
        ("sa", "https://people.zoho.sa", "https://accounts.zoho.sa"),
        ("com.cn", "https://people.zoho.com.cn", "https://accounts.zoho.com.cn"),
        ("us", "https://people.zoho.com", "https://accounts.zoho.com"),
    ],
)
def test_data_center_sets_both_urls(monkeypatch: pytest.MonkeyPatch, dc: str, people: str, accounts: str) -> None:
    monkeypatch.setenv("ZOHO_DATA_CENTER", dc)
    s = Settings()
    assert (s.zoho_people_url, s.zoho_accounts_url) == (people, accounts)


def test_explicit_urls_win_over_the_data_center(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOHO_DATA_CENTER", "eu")
    monkeypatch.setenv("ZOHO_PEOPLE_URL", "http://127.0.0.1:8900/")
    s = Settings()
    assert s.zoho_people_url == "http://127.0.0.1:8900"
    assert s.zoho_accounts_url == "https://accounts.zoho.eu"


def test_unknown_data_center_lists_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOHO_DATA_CENTER", "mars")
    with pytest.raises(ValidationError) as info:
        Settings()
    assert all(dc in str(info.value) for dc in ZOHO_DATA_CENTERS)


def test_secrets_are_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", "very-secret-value")
    monkeypatch.setenv("ZOHO_REFRESH_TOKEN", "1000.refresh.token")
    s = Settings()
    assert "very-secret-value" not in repr(s) and "1000.refresh.token" not in str(s)
    assert s.zoho_client_secret is not None and s.zoho_client_secret.get_secret_value() == "very-secret-value"
