"""The redaction filter: no secret reaches a log handler, at any level, in any shape."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from bot.logs import JsonFormatter, RedactingFilter, configure, event

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


@pytest.fixture
def configured() -> Iterator[Callable[[str], str]]:
    """Installs configure() in the format asked for; the root logger is restored afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level

    def install(fmt: str) -> str:
        configure(level="DEBUG", fmt=fmt, secrets=(*SECRETS, "pw1", "p@ss w0rd!"))
        return fmt

    yield install
    root.handlers[:], level = saved
    root.setLevel(level)


@pytest.mark.parametrize(
    "line",
    [
        "postgresql+psycopg://bot:p%40ss%20w0rd%21@db:5432/overage",  # as in a URL
        "form body password=p%40ss+w0rd%21&user=bot",  # as in a form body
        "sqlite:///x.db?key=pw1",  # a 3-character secret standing alone
        "postgresql://bot:pw1@db/overage",
    ],
)
def test_url_encoded_and_short_secrets_are_redacted(line: str) -> None:
    redactor = RedactingFilter((*SECRETS, "pw1", "p@ss w0rd!"))
    out = redactor.redact(line)
    assert "[redacted]" in out
    for shown in ("p%40ss", "p@ss", "w0rd", "pw1"):
        assert shown not in out


def test_percent_escapes_are_matched_in_either_case() -> None:
    redactor = RedactingFilter(("s3cr/t:key=1;x",))
    for line in ("q=s3cr%2Ft%3Akey%3D1%3Bx", "q=s3cr%2ft%3akey%3d1%3bx", "q=s3cr/t:key=1;x"):
        assert redactor.redact(line) == "q=[redacted]"


def test_short_secrets_inside_longer_words_and_tiny_ones_are_left() -> None:
    # documented rule: 3-7 characters are hidden where they stand alone; 1-2 are not searched
    redactor = RedactingFilter(("pw1", "ab"))
    assert redactor.redact("pw12345 and a tab") == "pw12345 and a tab"
    assert redactor.redact("pw1 alone") == "[redacted] alone"


def test_stack_info_and_an_already_formatted_traceback_are_redacted() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
    record.exc_text = f"Traceback (most recent call last):\nRuntimeError: {SECRETS[0]}"
    record.stack_info = f"Stack (most recent call last):\n  token = {SECRETS[1]!r}"
    RedactingFilter(SECRETS).filter(record)
    assert SECRETS[0] not in record.exc_text and "RuntimeError: [redacted]" in record.exc_text
    assert SECRETS[1] not in record.stack_info and "[redacted]" in record.stack_info


def test_text_lines_are_one_per_event_with_newlines_escaped(
    configured: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    configured("text")
    log = logging.getLogger("bot.lines")
    log.warning("first line\nsecond line\r\nthird")
    try:
        raise ValueError(f"bad\nvalue {SECRETS[0]}")
    except ValueError:
        log.exception("it failed")
    log.info("with its stack", stack_info=True)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3, lines
    assert lines[0].endswith("first line\\nsecond line\\r\\nthird")
    assert "it failed\\nTraceback (most recent call last):\\n" in lines[1]
    assert "ValueError: bad\\nvalue [redacted]" in lines[1]
    assert "with its stack\\nStack (most recent call last):" in lines[2]


def test_a_secret_in_the_stack_is_redacted(
    configured: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    configured("json")
    logging.getLogger("bot.stack").info("where", stack_info=bool("kn-client-secret-123"))
    (entry,) = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert "kn-client-secret-123" not in json.dumps(entry)
    assert "[redacted]" in entry["stack"]


def test_event_fields_are_json_keys_and_text_pairs(
    configured: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    log = logging.getLogger("handlers.commands")
    fields: dict[str, str | int | None] = {
        "subcommand": "top", "user": "U1", "channel": "C1", "duration_ms": 12,
        "upstream_calls": 3, "outcome": "ok", "company": None,
    }  # fmt: skip
    configured("json")
    event(log, "command /overage", **fields, note=f"with {SECRETS[2]}")
    (entry,) = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert {k: entry[k] for k in fields} == fields
    assert entry["note"] == "with [redacted]"
    assert entry["logger"] == "handlers.commands" and entry["level"] == "INFO"
    configured("text")
    event(log, "command /overage", **fields)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(
        "command /overage subcommand=top user=U1 channel=C1 duration_ms=12 upstream_calls=3 "
        "outcome=ok company=-"
    )


def test_event_fields_never_replace_the_entry_of_the_line(
    configured: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    configured("json")
    event(logging.getLogger("bot.x"), "odd", message="not this", level="nor this")
    (entry,) = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert entry["level"] == "INFO" and entry["message"].startswith("odd message=not this")
