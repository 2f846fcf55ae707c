"""Frequency rules of a deal, enforced on the device: the server hands them out and never counts per person.

"At most N shows in D days", "not again for D days after a redeem", "once per device" all need a count per
person. The only place that can keep one without tracking anyone is the person's own device: the app keeps
its own history of shows and redeems and applies the rules the catalogue and match answers carry. A server
could only enforce such a cap with a persistent identifier of each person (matches carry a coarse cell and a
consent check, the area catalogue not even that), so a rule asking to be enforced by the server is refused
with a problem of its own rather than quietly turned into a device rule.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from consent.errors import InvalidInput
from consent.strict import Integer, StrictModel

MAX_RULES = 8
Enforcer = Literal["device", "server"]
_ENFORCED_BY = "Always `device`: `server` would need a persistent identifier of each person and is refused."


class MaxShows(StrictModel):
    """Show the deal at most `count` times in any `days` × 24 hours on one device."""

    kind: Literal["max_shows"]
    count: Annotated[int, Integer(ge=1, le=1000)]
    days: Annotated[int, Integer(ge=1, le=365)]
    enforced_by: Enforcer = Field(default="device", description=_ENFORCED_BY)


class RedeemCooldown(StrictModel):
    """After a redeem on this device, do not show the deal again for `days` × 24 hours."""

    kind: Literal["redeem_cooldown"]
    days: Annotated[int, Integer(ge=1, le=3650)]
    enforced_by: Enforcer = Field(default="device", description=_ENFORCED_BY)


class OncePerDevice(StrictModel):
    """After the first `show` (or `redeem`) on this device, never show the deal there again."""

    kind: Literal["once_per_device"]
    event: Literal["show", "redeem"]
    enforced_by: Enforcer = Field(default="device", description=_ENFORCED_BY)


Rule = MaxShows | RedeemCooldown | OncePerDevice
FrequencyRule = Annotated[Rule, Field(discriminator="kind")]


def _identity(rule: Rule) -> tuple[Any, ...]:
    # Two rules of a kind may coexist only when they say different things (3 a day and 10 a week).
    if isinstance(rule, MaxShows):
        return (rule.kind, rule.days)
    if isinstance(rule, OncePerDevice):
        return (rule.kind, rule.event)
    return (rule.kind,)


def _distinct(rules: list[Rule]) -> list[Rule]:
    if len(rules) > MAX_RULES:
        raise ValueError(f"at most {MAX_RULES} frequency rules")
    seen: dict[tuple[Any, ...], int] = {}
    for position, rule in enumerate(rules):
        first = seen.setdefault(_identity(rule), position)
        if first != position:
            raise ValueError(f"rule {position} says the same as rule {first} ({rule.kind}); keep one")
    return rules


FrequencyRules = Annotated[list[FrequencyRule], AfterValidator(_distinct)]


class PerPersonCapRefused(InvalidInput):
    slug = "per-person-cap-refused"
    title = "A per-person cap cannot be enforced by the server"


EXPLANATION = (
    "A frequency rule asked to be enforced by the server. Counting shows or redeems per person on the server "
    "needs a persistent identifier of each person, which this service never has and will not collect; rules "
    "are sent to the app with the deal and enforced on the device. Leave `enforced_by` out or send `device`."
)


def refuse_server_side(rules: list[Rule] | None) -> None:
    """Raise PerPersonCapRefused when any rule asks the server to enforce it."""
    for position, rule in enumerate(rules or []):
        if rule.enforced_by == "server":
            raise PerPersonCapRefused(
                f"frequency_rules[{position}] ({rule.kind}) asks to be enforced by the server. The server cannot "
                "count per person without a persistent identifier of each person, which it never has: matches "
                "carry only a coarse cell and the area catalogue nothing at all. Frequency rules are enforced "
                "on the device; leave enforced_by out or send 'device'.",
                rule=position,
            )


def stored(rules: list[Rule]) -> list[dict[str, Any]]:
    """The rules as kept in the database and handed out (every field present, ``enforced_by`` included)."""
    return [rule.model_dump() for rule in rules]
