"""The redaction filter: no secret reaches a log handler, at any level, in any shape."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot.logs import JsonFormatter, RedactingFilter, configure

SECRETS = ("kn-client-secret-123", "xoxb-1111-2222-abcdef", "signing-secret-456")


@pytest.fixture
def capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(SECRETS))
    logger = logging.getLogger("test.redaction")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, stream


@pytest.mark.parametrize(
    "message",
    [
        f"token is {SECRETS[0]}",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiUmVzZWxsZXIifQ.c2lnbmF0dXJl",
        "body grant_type=client_credentials&client_id=x&client_secret=hunter2hunter2",
        "slack xoxb-9999-8888-zzzzzz and xapp-1-A111-222-abc",
        f"signing {SECRETS[2]}",
    ],
)
def test_secrets_are_redacted_in_messages(
    capture: tuple[logging.Logger, io.StringIO], message: str
) -> None:
    logger, stream = capture
    logger.debug(message)
    out = stream.getvalue()
    assert "[redacted]" in out
    for secret in (*SECRETS, "hunter2hunter2", "eyJyb2xlIjoiUmVzZWxsZXIifQ", "xapp-1-A111"):
        assert secret not in out


def test_secrets_are_redacted_in_arguments_and_tracebacks(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    logger.info("value %s", SECRETS[1])
    try:
        raise RuntimeError(f"failed with {SECRETS[0]}")
    except RuntimeError:
        logger.exception("boom")
    out = stream.getvalue()
    assert SECRETS[0] not in out and SECRETS[1] not in out
    assert "RuntimeError" in out


def test_json_lines_are_one_object_per_event() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    line = JsonFormatter().format(record)
    assert json.loads(line)["message"] == "hello world"
    assert "\n" not in line


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_configure_redacts_every_logger_in_either_format(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure(level="INFO", fmt=fmt, secrets=SECRETS)
        log = logging.getLogger("bot.anywhere")
        log.info("token %s", SECRETS[0])
        try:
            raise RuntimeError(f"refused {SECRETS[1]}")
        except RuntimeError:
            log.exception("failed for %s", SECRETS[2])
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "RuntimeError" in err and "[redacted]" in err
    for secret in SECRETS:
        assert secret not in err
    if fmt == "json":
        entries = [json.loads(line) for line in err.splitlines()]
        assert [e["message"] for e in entries] == ["token [redacted]", "failed for [redacted]"]
        assert "RuntimeError: refused [redacted]" in entries[1]["exception"]
