"""``python -m tests.standin --port N``: serve the stand-in until SIGINT/SIGTERM.

The first stdout line is the base URL for ``TELEGRAM_BASE_URL`` (``.../bot``);
the control endpoint is ``<root>/_standin/rpc`` (see :mod:`tests.standin.control`).
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from .server import DEFAULT_TOKEN, BotApiStandin


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.standin", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free)")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the only accepted bot token")
    parser.add_argument("--bot-username", default="back_care_test_bot")
    parser.add_argument(
        "--callback-ttl",
        type=float,
        default=15.0,
        help="seconds a callback query stays answerable (0: forever)",
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with BotApiStandin(
        args.token,
        bot_username=args.bot_username,
        port=args.port,
        callback_query_ttl=args.callback_ttl if args.callback_ttl > 0 else None,
    ) as api:
        print(api.base_url, flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(_parse_args(argv)))


if __name__ == "__main__":
    main()
