import io
import json
import logging
import logging.config
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from uvicorn.config import LOGGING_CONFIG

from bot import logcontext
from bot.logsetup import LogFormat, RedactingFilter, configure_logging, parse_log_format, redact


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


@pytest.fixture
def captured_as() -> Iterator[Any]:
    """`captured_as("json")`: the root logger writing LOG_FORMAT's lines into a buffer; undone after."""
    root = logging.getLogger()
    state = (root.handlers[:], root.level, logging.getLogRecordFactory())

    def capture(log_format: LogFormat) -> io.StringIO:
        configure_logging(logging.INFO, log_format)
        [ours] = [h for h in root.handlers if getattr(h, "lmsbot_handler", False)]
        written = io.StringIO()
        assert isinstance(ours, logging.StreamHandler)
        ours.setStream(written)
        return written

    yield capture
    root.handlers[:] = state[0]
    root.setLevel(state[1])
    logging.setLogRecordFactory(state[2])


def test_json_lines_carry_time_level_logger_message_and_context_with_secrets_scrubbed(captured_as: Any) -> None:
    written = captured_as("json")
    log = logging.getLogger("bot.test.json")
    with logcontext.bound(request_id="r-1", workspace="T1", slack_user="U1"):
        log.warning("answered %s with token %s", "U1", "xoxb-1-2-secret")
        log.info(
            "extras too", extra={"detail": {"client_secret": "s3cr3t-value", "code": 7209, "note": 'Bearer abc"1'}}
        )
        try:
            raise RuntimeError("refused xoxb-3-4-in-a-traceback")
        except RuntimeError:
            log.exception("while calling Slack")
    log.info("outside any request")
    lines = written.getvalue().splitlines()
    assert len(lines) == 4  # one object per line, tracebacks included
    first, extras, failure, outside = (json.loads(line) for line in lines)
    assert first["level"] == "WARNING" and first["logger"] == "bot.test.json"
    assert first["message"] == "answered U1 with token [redacted]"
    assert datetime.fromisoformat(first["time"]).utcoffset() == timedelta(0)
    assert first["context"] == {"request_id": "r-1", "workspace": "T1", "slack_user": "U1"}
    assert extras["detail"] == {"client_secret": "[redacted]", "code": 7209, "note": 'Bearer [redacted]"1'}
    assert "RuntimeError" in failure["exc_info"] and "in-a-traceback" not in written.getvalue()
    assert outside["context"] == {}
    assert "s3cr3t-value" not in written.getvalue() and "xoxb-1-2-secret" not in written.getvalue()


def test_text_lines_stay_plain_with_the_context_after_the_message(captured_as: Any) -> None:
    written = captured_as("text")
    log = logging.getLogger("bot.test.text")
    log.warning("no context here")
    with logcontext.bound(request_id="r-2", job_id="reminders-sweep:1"):
        log.warning("refresh_token=1000.aaaaaaaaaa.bbbbbbbbbb in a sweep")
    plain, tagged = written.getvalue().splitlines()
    assert plain.endswith(" WARNING bot.test.text: no context here")
    assert tagged.endswith(
        " WARNING bot.test.text: refresh_token=[redacted] in a sweep [request_id=r-2 job_id=reminders-sweep:1]"
    )


def test_log_format_values() -> None:
    assert parse_log_format(None) == "text" and parse_log_format(" JSON ") == "json"
    with pytest.raises(ValueError, match="LOG_FORMAT must be one of: text, json"):
        parse_log_format("xml")


def test_an_unknown_log_format_is_refused_in_plain_words(capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    from bot.cli import main

    monkeypatch.setenv("LOG_FORMAT", "xml")
    assert main(["keys", "generate"]) == 2
    assert "error: LOG_FORMAT must be one of: text, json (got 'xml')" in capsys.readouterr().err
