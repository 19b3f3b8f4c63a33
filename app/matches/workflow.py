"""The exchange workflow: each party moves its own side of a match; the match's status follows from both."""

from dataclasses import dataclass
from typing import Literal

State = Literal["proposed", "interested", "in_contact", "realised", "declined"]
Side = Literal["offer", "need"]
DeclineReason = Literal["quality", "quantity", "distance", "price", "regulation", "timing", "other"]

# Which step a side may take from where it stands.
MOVES: dict[str, frozenset[str]] = {
    "proposed": frozenset({"interested", "declined"}),
    "interested": frozenset({"in_contact", "declined"}),
    "in_contact": frozenset({"realised", "declined"}),
    "declined": frozenset({"interested"}),
    "realised": frozenset(),
}
ENGAGED = frozenset({"interested", "in_contact", "realised"})


class TransitionRefused(Exception):
    """A step the workflow does not allow; the message says why."""


@dataclass(frozen=True)
class Sides:
    offer: str
    need: str

    def of(self, side: Side) -> str:
        return self.offer if side == "offer" else self.need

    def other(self, side: Side) -> str:
        return self.need if side == "offer" else self.offer

    @property
    def mutual(self) -> bool:
        """Both parties said interested (or went further): the moment identities are revealed."""
        return self.offer in ENGAGED and self.need in ENGAGED


def move(sides: Sides, side: Side, to: str) -> Sides:
    current = sides.of(side)
    if to not in MOVES[current]:
        allowed = ", ".join(sorted(MOVES[current])) or "nothing (it is final)"
        raise TransitionRefused(f"The {side} side is {current}; from there it can move to {allowed}, not {to}.")
    if to == "in_contact" and sides.other(side) not in ENGAGED:
        raise TransitionRefused("Contact needs both parties interested first.")
    return Sides(to, sides.need) if side == "offer" else Sides(sides.offer, to)


def status(sides: Sides) -> str:
    """One word for the whole match, for lists and summaries."""
    states = {sides.offer, sides.need}
    for word in ("declined", "realised", "in_contact"):
        if word in states:
            return word
    return "interested" if sides.mutual else "proposed"
