"""What one active user costs in memory and one event costs in time, engine only.

    .venv/bin/python -m bench.engine_cost [--users 10000]

Memory: tracemalloc growth while N conversations are loaded into the machine, mid-screening,
divided by N. Time: mean wall time of one button press through the engine (no store, no
transport), over N users.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc

from bot.engine.engine import Engine
from bot.engine.events import Choose, Start
from bot.flow.loader import load_bundle
from bot.safety.detector import default_detector
from bot.store.records import Profile


async def measure(users: int) -> dict[str, float]:
    engine = Engine(load_bundle(), default_detector())
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    convs = []
    profiles = []
    for uid in range(users):
        conv = engine.new_conversation(uid)
        profile = Profile(uid, "en")
        engine.attach(conv)
        await engine.handle(conv, profile, Start(uid, "en"))
        await engine.handle(conv, profile, Choose(uid, conv.ctx["seq"], "agree"))
        convs.append(conv)
        profiles.append(profile)
    gc.collect()
    per_user = (tracemalloc.get_traced_memory()[0] - before) / users
    tracemalloc.stop()

    started = time.perf_counter()
    for conv, profile in zip(convs, profiles, strict=True):
        await engine.handle(conv, profile, Choose(conv.user_id, conv.ctx["seq"], "no"))
    per_event = (time.perf_counter() - started) / users
    text_started = time.perf_counter()
    detector = engine.detector
    for _ in range(users):
        detector.detect("my left leg feels a bit stiff after the stretch")
    per_detect = (time.perf_counter() - text_started) / users
    return {"bytes_per_active_user": per_user, "us_per_button_event": per_event * 1e6,
            "us_per_detector_call": per_detect * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    args = parser.parse_args()
    result = asyncio.run(measure(args.users))
    print(f"users: {args.users}")
    print(f"memory per active user (engine model + context): {result['bytes_per_active_user']:.0f} B")
    print(f"time per button event (engine only): {result['us_per_button_event']:.1f} us")
    print(f"time per free-text detector call: {result['us_per_detector_call']:.1f} us")


if __name__ == "__main__":
    main()
