"""What one active user costs in memory and one event costs in time, engine only.

    .venv/bin/python -m bench.engine_cost [--users 10000]

Memory: tracemalloc growth while N conversations are loaded into the machine, at the first
screening list, divided by N. Time: mean wall time of one button press ("None of these")
through the engine (no store, no transport), over N users; and of reading one free text, by
the English detector alone and by the whole triage (every detector, then the decision).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc
from collections.abc import Callable

from back_care_guide.components import build_engine, build_triage
from back_care_guide.engine.events import Choose, Start
from back_care_guide.flow.choices import NONE_OF_THESE
from back_care_guide.flow.loader import load_bundle
from back_care_guide.store.records import Profile

FREE_TEXT = "my left leg feels a bit stiff after the stretch"


def mean_seconds(call: Callable[[str], object], times: int) -> float:
    """Mean wall time of ``call(FREE_TEXT)`` over ``times`` calls."""
    started = time.perf_counter()
    for _ in range(times):
        call(FREE_TEXT)
    return (time.perf_counter() - started) / max(times, 1)


async def measure(users: int) -> dict[str, float]:
    bundle = load_bundle()
    triage = build_triage(bundle)
    engine = build_engine(bundle, triage=triage)
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
    first_list = {conv.state for conv in convs}
    if first_list != {"screen_cauda"}:
        raise RuntimeError(f"agree should lead to the first screening list, not {first_list}")

    started = time.perf_counter()
    for conv, profile in zip(convs, profiles, strict=True):
        await engine.handle(conv, profile, Choose(conv.user_id, conv.ctx["seq"], NONE_OF_THESE))
    per_event = (time.perf_counter() - started) / users
    if any(conv.state == "screen_cauda" for conv in convs):
        raise RuntimeError('"None of these" did not move every user on: the timing is void')
    per_read = mean_seconds(triage.detectors["en"].read, users)
    per_triage = mean_seconds(triage.text, users)
    return {"bytes_per_active_user": per_user, "us_per_button_event": per_event * 1e6,
            "us_per_detector_call": per_read * 1e6, "us_per_triage_call": per_triage * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    args = parser.parse_args()
    result = asyncio.run(measure(args.users))
    print(f"users: {args.users}")
    print(f"memory per active user (engine model + context): {result['bytes_per_active_user']:.0f} B")
    print(f"time per button event (engine only): {result['us_per_button_event']:.1f} us")
    print(f"time per free-text detector read (en): {result['us_per_detector_call']:.1f} us")
    print(f"time per free-text triage call (all detectors + decision): "
          f"{result['us_per_triage_call']:.1f} us")


if __name__ == "__main__":
    main()
