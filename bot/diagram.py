"""``python -m bot diagram``: the flow as a Mermaid state diagram, urgent-care paths highlighted.

Drawn by transitions' own Mermaid engine from the same YAML the engine runs, so the
picture a clinician reviews is the conversation the bot has.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, cast

from transitions.extensions.diagrams import GraphMachine

from bot.flow.graph import edges
from bot.flow.loader import FlowBundle, load_bundle

ANYWHERE = "any_state"
URGENT_STYLE = {"fillcolor": "#f8d7da", "color": "#b02a37", "stroke-width": "3px"}
PATH_STYLE = {"fillcolor": "#fff3cd", "color": "#997404"}


def mermaid(bundle: FlowBundle) -> str:
    flow, safety = bundle.flow, bundle.safety
    transitions: list[dict[str, Any]] = []
    for edge in edges(flow):
        if edge.kind in ("choice", "timer", "call"):
            label = edge.label if edge.dest != safety.urgent_state else f"{edge.label} (RED FLAG)"
            transitions.append({"trigger": label, "source": edge.source, "dest": edge.dest})
    i = flow.interrupts
    for label, dest in (("red flag typed", i.emergency), ("warning sign button or /redflags", i.warning),
                        ("unsure mention typed", i.unsure), ("sharp pain typed", i.stop_now),
                        ("clinician mention typed", i.clinician), ("/stop or Stop button", i.stop)):
        transitions.append({"trigger": label, "source": ANYWHERE, "dest": dest})
    transitions.append({"trigger": "/start when locked", "source": ANYWHERE, "dest": i.locked})
    states = [ANYWHERE, *flow.states]
    machine = GraphMachine(states=states, transitions=transitions, initial=flow.start,
                           auto_transitions=False, graph_engine="mermaid",
                           title=f"Back Care Guide: {flow.id} flow")
    node_styles = cast(dict[str, Any], machine.style_attributes["node"])
    node_styles["urgent"] = URGENT_STYLE
    node_styles["to_urgent"] = PATH_STYLE
    # Highlight the urgent state and every state one step away from it by a flow choice.
    to_urgent = {t["source"] for t in transitions if t["dest"] == safety.urgent_state}
    graph = machine.model_graphs[id(machine)]
    for name in to_urgent - {ANYWHERE}:
        graph.set_node_style(name, "to_urgent")
    graph.set_node_style(safety.urgent_state, "urgent")
    source: str = machine.get_graph().draw(None)
    return source


def write_diagram(output: str = "-") -> int:
    text = mermaid(load_bundle())
    if output == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(output).write_text(text + "\n", encoding="utf-8")
    return 0


