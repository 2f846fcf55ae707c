"""Base class of every request body, and the number types request bodies use.

Unknown fields are an error, not silently dropped. Text may not hold NUL characters: PostgreSQL cannot store
them, so letting one through would turn bad input into a server error. Request numbers are JSON numbers: the lax
default would read ``true`` as 1 and ``"5"`` as 5, so a store could land at ``[false, 0]`` or a consent name
notice version ``true``. Integers are still accepted where a float is. Dates and times are ISO 8601 text, never a
number read as a Unix time.
"""

from typing import Annotated, Any, Self

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Strict, model_validator

JsonInt = Annotated[int, Strict()]
JsonFloat = Annotated[float, Strict()]


def _iso_text(value: Any) -> Any:
    # The lax default reads a bare number as a Unix time ("-26939" became a moment of 1969).
    if not isinstance(value, str) or value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        raise ValueError("expected an ISO 8601 date or time, such as 2026-11-01 or 2026-11-01T00:00:00Z")
    return value


#: Put before a date or datetime type: only ISO 8601 text is read as one.
IsoText = BeforeValidator(_iso_text)
#: A request time: ISO 8601 text with an offset.
JsonTime = Annotated[AwareDatetime, IsoText]


def has_nul(value: Any) -> bool:
    """Whether a string anywhere in ``value`` (strings, lists, dict keys and values) holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, (list, tuple)):
        return any(has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    return False  # numbers, None, and nested models (which check themselves)


class StrictModel(BaseModel):
    """A request model that rejects fields it does not declare and text with NUL characters."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _no_nul(self) -> Self:
        for name in type(self).model_fields:
            if has_nul(getattr(self, name)):
                raise ValueError(f"{name}: text must not contain NUL characters")
        return self
