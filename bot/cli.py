"""Command line: argparse subcommands; turns errors into one line and an exit code."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dotenv import dotenv_values

from bot import logs
from bot.config import Settings
from bot.errors import BotError, ConfigError

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
SELF_CONTAINED = frozenset({"demo", "sandbox"})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="License-overage bot for Keepnet resellers."
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the Slack app (the default)")
    sub.add_parser("check", help="check the settings and both connections")
    digest = sub.add_parser("digest", help="build the digest once and post it")
    digest.add_argument("--channel", help="channel ID (default: DIGEST_CHANNEL)")
    digest.add_argument("--dry-run", action="store_true", help="print it instead of posting")
    export = sub.add_parser("export", help="write the overage file locally")
    export.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    export.add_argument("--output", help="file or folder to write (default: here)")
    sandbox = sub.add_parser("sandbox", help="serve the sandbox Keepnet API on loopback")
    sandbox.add_argument("--port", type=int, default=8081)
    sandbox.add_argument("--companies", type=int, default=500)
    sandbox.add_argument("--seed", type=int, default=1)
    sub.add_parser("demo", help="run everything against the sandbox, no credentials needed")
    return parser


def load_environment(cwd: Path) -> dict[str, str]:
    """The process environment over `.env` from the directory the program was started in."""
    env: dict[str, str] = {}
    dotenv = cwd / ".env"
    if dotenv.is_file():
        env.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
    env.update(os.environ)
    return env


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    try:
        settings = _settings_for(command)
        logs.configure(
            level=settings.log_level, fmt=settings.log_format, secrets=settings.secrets()
        )
        return _run(command, args, settings)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except BotError as exc:
        print(exc.for_user(), file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_FAILED
    except Exception as exc:  # the outer edge: one line, the detail in the log at DEBUG
        log.debug("unexpected failure", exc_info=exc)
        print(
            f"Unexpected failure ({type(exc).__name__}). Run with LOG_LEVEL=DEBUG for details.",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _settings_for(command: str) -> Settings:
    """The settings from the environment and `.env`, except for the commands that bring their
    own: the demo and the sandbox read nothing, so no unrelated setting can stop them."""
    if command == "demo":  # its output is the messages: the log says only what went wrong
        return Settings(log_level="WARNING")
    if command in SELF_CONTAINED:
        return Settings()
    return Settings.from_env(load_environment(Path.cwd()))


def _run(command: str, args: argparse.Namespace, settings: Settings) -> int:
    if command == "sandbox":
        from bot.sandbox.server import Sandbox

        Sandbox(companies=args.companies, seed=args.seed).serve_forever("127.0.0.1", args.port)
        return EXIT_OK
    if command == "demo":
        from bot import demo

        return asyncio.run(demo.run(Path.cwd() / "demo-output"))
    if command == "check":
        from bot import check

        return asyncio.run(check.run(settings))
    if command == "export":
        from bot import oneshot

        settings.require_keepnet()
        return asyncio.run(oneshot.export(settings, fmt=args.format, output=args.output))
    if command == "digest":
        from bot import oneshot

        settings.require_keepnet()
        if not args.dry_run:
            settings.require_slack(serving=False)  # a one-shot post answers no requests
        return asyncio.run(oneshot.digest(settings, channel=args.channel, dry_run=args.dry_run))
    from bot import serve

    settings.require_keepnet()
    settings.require_slack()
    _check_schedule_channel(settings)
    asyncio.run(serve.run(settings))
    return EXIT_OK


def _check_schedule_channel(settings: Settings) -> None:
    if settings.digest_channel is None:
        log.info("DIGEST_CHANNEL is not set: no scheduled digest")
