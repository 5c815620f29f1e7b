"""Command line: ``python -m back_care_guide [run|chat|check|diagram|triage-doc]``.

With no command the bot runs on Telegram when a token is configured, and otherwise
in the terminal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from pydantic import ValidationError

from back_care_guide.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m back_care_guide", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run on Telegram (long polling, or a webhook if WEBHOOK_URL is set)")
    sub.add_parser("chat", help="chat with the bot in this terminal")
    sub.add_parser("check", help="validate the flow, locales and safety rules")
    diagram = sub.add_parser("diagram", help="write the flow as a Mermaid diagram")
    diagram.add_argument("-o", "--output", default="-", help="file to write (default: stdout)")
    triage_doc = sub.add_parser("triage-doc", help="write the triage table a clinician reviews")
    triage_doc.add_argument("-o", "--output", default="-", help="file to write (default: stdout)")
    args = parser.parse_args(argv)

    if args.command == "check":
        from back_care_guide.check import check

        return check()
    if args.command == "diagram":
        from back_care_guide.diagram import write_diagram

        return write_diagram(args.output)
    if args.command == "triage-doc":
        from back_care_guide.triage_doc import write_triage_doc

        return write_triage_doc(args.output)

    try:
        settings = Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        print(f"configuration error: {'.'.join(map(str, err['loc'])).upper()}: {err['msg']}",
              file=sys.stderr)
        return 2
    from back_care_guide.components import setup_logging

    if args.command == "chat" or (args.command is None and settings.telegram_bot_token is None):
        if args.command is None:
            print("No TELEGRAM_BOT_TOKEN set, so this is the terminal chat. "
                  "To connect to Telegram, put your token in .env (see README).\n")
        setup_logging("WARNING", [settings.telegram_bot_token.get_secret_value()]
                      if settings.telegram_bot_token else ())
        from back_care_guide.chat import run_chat

        return _store_errors_exit_2(run_chat, settings)
    secrets = [s.get_secret_value() for s in (settings.telegram_bot_token, settings.webhook_secret) if s]
    setup_logging(settings.log_level, secrets)
    from back_care_guide.telegram.app import run_telegram

    return _store_errors_exit_2(run_telegram, settings)


def _store_errors_exit_2(run: Callable[[Settings], int], settings: Settings) -> int:
    """Run the bot; a database that cannot be used is one line on stderr and exit code 2."""
    from back_care_guide.store.errors import StoreError

    try:
        return run(settings)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
