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


@pytest.mark.parametrize(
    ("env", "budget"),
    [
        ({}, 1000),  # nothing known: 40% of a 10-licence Essential HR org's 2,500
        ({"ZOHO_PLAN": "professional"}, 1000),  # a plan without the licence count says too little
        ({"ZOHO_PLAN": "essential", "ZOHO_LICENSES": "8"}, 800),  # 40% of 8 x 250
        ({"ZOHO_PLAN": "ESSENTIAL HR", "ZOHO_LICENSES": "100"}, 2000),  # 40% of the 5,000 maximum
        ({"ZOHO_PLAN": "premium", "ZOHO_LICENSES": "30"}, 3000),  # 40% of 30 x 250
        ({"ZOHO_PLAN": "enterprise", "ZOHO_LICENSES": "1000"}, 10000),  # 40% of the 25,000 maximum
        ({"ZOHO_PLAN": "enterprise", "ZOHO_LICENSES": "1000", "ZOHO_DAILY_CALL_BUDGET": "1234"}, 1234),
        ({"ZOHO_DAILY_CALL_BUDGET": "50"}, 50),
    ],
)
def test_daily_call_budget(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], budget: int) -> None:
    for name in ("ZOHO_PLAN", "ZOHO_LICENSES", "ZOHO_DAILY_CALL_BUDGET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings().zoho_daily_budget == budget


@pytest.mark.parametrize(
    ("name", "value"), [("ZOHO_PLAN", "gold"), ("ZOHO_LICENSES", "0"), ("ZOHO_DAILY_CALL_BUDGET", "0")]
)
def test_daily_call_budget_settings_are_checked(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.lower()):
        Settings()


def test_the_reminder_settings_are_part_of_the_one_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import ReminderConfig
    from storage.repositories.preferences import WEEKDAYS

    monkeypatch.setenv("REMINDER_SWEEP_MINUTES", "7")
    monkeypatch.setenv("REMINDER_MANAGER_DIGEST_WEEKDAY", "Friday")
    s = Settings()
    assert (s.reminders.sweep_minutes, s.reminders.manager_digest_weekday) == (7.0, "fri")  # the same names
    mine = s.with_reminders(ReminderConfig(_env_file=None, sweep_minutes=1))  # type: ignore[call-arg]
    assert (mine.reminders.sweep_minutes, s.reminders.sweep_minutes) == (1.0, 7.0)
    assert [ReminderConfig(manager_digest_weekday=day).manager_digest_weekday for day in WEEKDAYS] == list(WEEKDAYS)


def test_a_malformed_reminder_setting_fails_where_reminders_are_built_not_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REMINDER_SWEEP_MINUTES", "often")
    s = Settings()  # `lmsbot link` and the other commands without reminders still run
    with pytest.raises(ValidationError, match="sweep_minutes"):
        _ = s.reminders
