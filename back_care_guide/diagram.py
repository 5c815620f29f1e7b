"""``python -m back_care_guide diagram``: the flow as a Mermaid state diagram, urgent-care paths highlighted.

Drawn by transitions' own Mermaid engine from the same YAML the engine runs, so the
picture a clinician reviews is the conversation the bot has.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, cast

from transitions.extensions.diagrams import GraphMachine

from back_care_guide.flow.graph import edges
from back_care_guide.flow.loader import FlowBundle, load_bundle
from back_care_guide.safety.triage_rules import LOCKING

ANYWHERE = "any_state"
URGENT_STYLE = {"fillcolor": "#f8d7da", "color": "#b02a37", "stroke-width": "3px"}
PATH_STYLE = {"fillcolor": "#fff3cd", "color": "#997404"}


def mermaid(bundle: FlowBundle) -> str:
    flow, triage = bundle.flow, bundle.triage
    urgent = triage.tiers.emergency.outcome
    transitions: list[dict[str, Any]] = []
    for edge in edges(bundle):
        if edge.kind in ("choice", "timer", "call", "report"):
            label = edge.label if edge.dest != urgent else f"{edge.label} (RED FLAG)"
            transitions.append({"trigger": label, "source": edge.source, "dest": edge.dest})
    i = flow.interrupts
    typed = [(f"{tier.value.replace('_', ' ')} sign typed", triage.tiers.rule(tier).outcome)
             for tier in LOCKING]
    for label, dest in (*typed, ("warning sign button or /redflags", i.warning),
                        ("hedged red-flag mention typed", i.confirm),
                        ("question about a sign", i.info), ("/stop or Stop button", i.stop)):
        transitions.append({"trigger": label, "source": ANYWHERE, "dest": dest})
    for label, dest in (("/start, may say cleared", i.locked), ("/start, too early", i.wait),
                        ("/start, same day", i.rest)):
        transitions.append({"trigger": label, "source": ANYWHERE, "dest": dest})
    states = [ANYWHERE, *flow.states]
    machine = GraphMachine(states=states, transitions=transitions, initial=flow.start,
                           auto_transitions=False, graph_engine="mermaid",
                           title=f"Back Care Guide: {flow.id} flow")
    node_styles = cast(dict[str, Any], machine.style_attributes["node"])
    node_styles["urgent"] = URGENT_STYLE
    node_styles["to_urgent"] = PATH_STYLE
    # Highlight the urgent state and every state one step away from it by a flow choice.
    to_urgent = {t["source"] for t in transitions if t["dest"] == urgent}
    graph = machine.model_graphs[id(machine)]
    for name in to_urgent - {ANYWHERE}:
        graph.set_node_style(name, "to_urgent")
    graph.set_node_style(urgent, "urgent")
    source: str = machine.get_graph().draw(None)
    return source


def write_diagram(output: str = "-", flows_dir: Path | None = None) -> int:
    text = mermaid(load_bundle(flows_dir))
    if output == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(output).write_text(text + "\n", encoding="utf-8")
    return 0


