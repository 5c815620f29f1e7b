"""Safety: triage (the one decision for every input), its rules, how long outcomes hold,
the free-text detector behind it, and the emergency numbers."""

from back_care_guide.safety.detection import Detector, Mention, Reading, Status
from back_care_guide.safety.triage import Action, Assessment, Triage
from back_care_guide.safety.triage_rules import Tier, TriageRules

__all__ = ["Action", "Assessment", "Detector", "Mention", "Reading", "Status", "Tier", "Triage",
           "TriageRules"]
