import logging

import pytest

from bot.logsetup import RedactingFilter, redact


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("response: {'ok': True, 'access_token': 'xoxb-123-456-abcdef'}", "xoxb-123-456-abcdef"),
        ("headers: Authorization: Zoho-oauthtoken 1000.8cb99dxxxxxxxx9be93.9b8xxxxxxf", "8cb99dxxxxxxxx9be93"),
        (
            "Authorization: Bearer 5_nz54vlUBIcxt8oJOmE5K6Qr1ARMy5jwPMdVATOCBB",
            "5_nz54vlUBIcxt8oJOmE5K6Qr1ARMy5jwPMdVATOCBB",
        ),
        ("POST /oauth/v2/token?refresh_token=1000.abcdef1234.9876fedcba&client_secret=s3cr3t", "s3cr3t"),
        ('{"refresh_token": "1000.aaaaaaaaaa.bbbbbbbbbb", "client_secret": "zz"}', "aaaaaaaaaa"),
        ("app token xapp-1-A0-123-abc", "xapp-1-A0-123-abc"),
    ],
)
def test_credentials_are_redacted(line: str, secret: str) -> None:
    cleaned = redact(line)
    assert secret not in cleaned and "[redacted]" in cleaned


def test_filter_scrubs_formatted_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redaction")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.DEBUG):
        logger.debug("Received the following response: %s", {"access_token": "xoxb-999-888-secret"})
    assert "xoxb-999-888-secret" not in caplog.text and "[redacted]" in caplog.text
    assert redact("module-progress answered 200 for learner 100002000000032145") == (
        "module-progress answered 200 for learner 100002000000032145"
    )
