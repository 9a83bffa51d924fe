import io
import logging
import logging.config
from collections.abc import Iterator

import pytest
from uvicorn.config import LOGGING_CONFIG

from bot.logsetup import RedactingFilter, configure_logging, redact


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


@pytest.fixture
def logging_as_serve_sets_it_up() -> Iterator[io.StringIO]:
    """configure_logging(DEBUG) and then uvicorn's own log config, as `lmsbot -v serve` does, every handler
    writing to one buffer (a plain handler on the root, without any filter, too); undone after."""
    names = ("uvicorn", "uvicorn.access", "uvicorn.error", "httpx", "slack_sdk", "apscheduler", "bot.test")
    saved = {n: (lg.handlers[:], lg.level, lg.propagate) for n in names for lg in [logging.getLogger(n)]}
    root = logging.getLogger()
    root_state = (root.handlers[:], root.level)
    factory = logging.getLogRecordFactory()
    configure_logging(logging.DEBUG)
    logging.config.dictConfig(LOGGING_CONFIG)  # uvicorn's handlers on its loggers, not propagating to ours
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    written = io.StringIO()
    for name in ("uvicorn", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            assert isinstance(handler, logging.StreamHandler)
            handler.setStream(written)
    root.addHandler(logging.StreamHandler(written))
    yield written
    logging.setLogRecordFactory(factory)
    root.handlers[:] = root_state[0]
    root.setLevel(root_state[1])
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def test_every_logger_is_scrubbed_whichever_handler_writes_it(logging_as_serve_sets_it_up: io.StringIO) -> None:
    code, state, refresh = "1000.aaaaaaaa11.bbbbbbbb22", "st4te-Value_1", "1000.cccccccc33.dddddddd44"
    callback = f"/connect/zoho/callback?code={code}&state={state}&location=us"
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", callback, "1.1", 200)
    logging.getLogger("uvicorn.error").debug("request for %s", callback)
    logging.getLogger("httpx").info("HTTP Request: POST http://z/oauth/v2/token?refresh_token=%s", refresh)
    logging.getLogger("slack_sdk").debug("Received the following response: %s", {"access_token": "xoxb-1-2-bot"})
    logging.getLogger("apscheduler").debug("job args: client_secret=%s", "s3cr3t-value")
    try:
        raise RuntimeError("refused xoxb-3-4-in-a-traceback")
    except RuntimeError:
        logging.getLogger("bot.test").exception("while calling Slack")
    written = logging_as_serve_sets_it_up.getvalue()
    for secret in (code, state, refresh, "xoxb-1-2-bot", "s3cr3t-value", "xoxb-3-4-in-a-traceback"):
        assert secret not in written, secret
    assert '"GET /connect/zoho/callback?code=[redacted]&state=[redacted]&location=us HTTP/1.1" 200' in written
    assert "while calling Slack" in written and "RuntimeError" in written
