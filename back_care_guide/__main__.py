"""Command line: ``python -m back_care_guide [run|chat|check|migrate|diagram|triage-doc]``.

With no command the bot runs on Telegram when a token is configured, and otherwise
in the terminal.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from pydantic import ValidationError

from back_care_guide.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m back_care_guide", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run on Telegram (long polling, or a webhook if WEBHOOK_URL is set)")
    chat = sub.add_parser("chat", help="chat with the bot in this terminal")
    chat.add_argument("--lang", help="the language to chat in (es, de...; default: the terminal's, "
                      "from LANG)")
    sub.add_parser("check", help="validate the data: the flow, texts, safety rules, lexicons, numbers")
    sub.add_parser("migrate", help="bring the database (DATABASE_URL) to this version's schema and exit "
                   "(the bot also does this at start)")
    diagram = sub.add_parser("diagram", help="write the flow as a Mermaid diagram")
    diagram.add_argument("-o", "--output", default="-", help="file to write (default: stdout)")
    triage_doc = sub.add_parser("triage-doc", help="write the triage table a clinician reviews")
    triage_doc.add_argument("-o", "--output", default="-", help="file to write (default: stdout)")
    args = parser.parse_args(argv)

    settings = _settings()
    if settings is None:
        return 2
    if args.command == "migrate":
        from back_care_guide.migrate import migrate

        settings = _legacy_database(settings)  # the database the bot would open
        return _store_errors_exit_2(partial(migrate, settings.database_url))
    if args.command == "check":
        from back_care_guide.check import check

        return check(settings.flows_dir)
    if args.command == "diagram":
        from back_care_guide.diagram import write_diagram

        return write_diagram(args.output, settings.flows_dir)
    if args.command == "triage-doc":
        from back_care_guide.triage_doc import write_triage_doc

        return write_triage_doc(args.output, settings.flows_dir)
    from back_care_guide.check import check_at_start

    bundle = check_at_start(settings.flows_dir)  # the data the bot runs on, as `check` sees it
    if bundle is None:
        return 2
    from back_care_guide.components import setup_logging

    if args.command == "chat" or (args.command is None and settings.telegram_bot_token is None):
        if args.command is None:
            print("No TELEGRAM_BOT_TOKEN set, so this is the terminal chat. "
                  "To connect to Telegram, put your token in .env (see README).\n")
        setup_logging("WARNING", [settings.telegram_bot_token.get_secret_value()]
                      if settings.telegram_bot_token else (), settings.log_format)
        settings = _legacy_database(settings)
        from back_care_guide.chat import run_chat

        language = getattr(args, "lang", None)
        if language is not None and language not in bundle.locales:
            print(f"--lang {language}: the bot speaks {', '.join(bundle.locales)}", file=sys.stderr)
            return 2
        return _store_errors_exit_2(partial(run_chat, settings, bundle, language))
    secrets = [s.get_secret_value() for s in (settings.telegram_bot_token, settings.webhook_secret) if s]
    setup_logging(settings.log_level, secrets, settings.log_format)
    settings = _legacy_database(settings)
    from back_care_guide.telegram.app import run_telegram

    return _store_errors_exit_2(partial(run_telegram, settings, bundle))


def _settings() -> Settings | None:
    """The settings, or None after one line on stderr saying what is wrong with them."""
    try:
        return Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        print(f"configuration error: {'.'.join(map(str, err['loc'])).upper()}: {err['msg']}",
              file=sys.stderr)
        return None


#: Where the database was before the per-user default: relative to the folder the bot started in.
LEGACY_DATABASE = Path("data") / "back_care.db"


def _legacy_database(settings: Settings) -> Settings:
    """With no DATABASE_URL set, keep using a database an earlier version left in ``./data/``
    (with one warning) while the per-user default file does not exist yet, so that an upgrade
    leaves nobody's conversations, reminders and safety holds behind."""
    from back_care_guide.store.sqlite import sqlite_path

    if "database_url" in settings.model_fields_set or not LEGACY_DATABASE.is_file():
        return settings
    default = sqlite_path(settings.database_url)
    if default.exists():
        return settings
    legacy = LEGACY_DATABASE.absolute()
    logging.getLogger("back_care_guide").warning(
        "using %s, left here by an earlier version; the default is now %s: move the file there "
        "(with its -wal file, while the bot is stopped) or set DATABASE_URL", legacy, default)
    return settings.model_copy(update={"database_url": f"sqlite:///{legacy}"})


def _store_errors_exit_2(run: Callable[[], int]) -> int:
    """Run a command; a database that cannot be used is one line on stderr and exit code 2."""
    from back_care_guide.store.errors import StoreError

    try:
        return run()
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
