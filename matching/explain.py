"""Turns the comparisons of a candidate into sentences a person reads, most important first."""

from matching.records import Comparison

RULE_WORDS = {
    "same_code": "both name the same EWC code",
    "text_neighbour": "their descriptions point to the same material",
    "code_proximity": "their EWC codes are close",
    "knowledge_route": "a documented valorisation route links them",
    "activity_route": "the receiver's activity is a documented user of this material",
    "same_stream": "both describe the same energy or water stream",
}


def explain(rule: str, components: tuple[Comparison, ...], *, top: int = 4) -> tuple[str, ...]:
    found = f"Proposed because {RULE_WORDS.get(rule, rule)}."
    ranked = sorted(components, key=lambda c: (-c.contribution, c.name))
    reasons = [c.reason for c in ranked[:top] if c.weight > 0]
    legal = next((c.reason for c in components if c.name == "legal" and c.level == "noted"), None)
    return tuple([found, *reasons, *([legal] if legal else [])])
