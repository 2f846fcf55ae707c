"""Base class of every request body, and the number types request bodies use.

Unknown fields are an error, not silently dropped. Text may not hold NUL characters: PostgreSQL cannot store
them, so letting one through would turn bad input into a server error. Request numbers are JSON numbers: the lax
default would read ``true`` as 1 and ``"5"`` as 5, so a store could land at ``[false, 0]`` or a consent name
notice version ``true``. Integers are still accepted where a float is, and a number with no fraction (``10.0``)
where an integer is, as JSON Schema counts it one. Dates and times are ISO 8601 text, never a
number read as a Unix time.
"""

from dataclasses import dataclass
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema


def _integral(value: Any) -> Any:
    # JSON Schema counts 10.0 as an integer (a number with no fraction), so it is taken as 10; 10.5 and true
    # are still refused by the strict check after this.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass(frozen=True)
class Integer:
    """Annotated metadata of a request integer within bounds: a JSON number with no fraction (``10`` or
    ``10.0``, as JSON Schema counts integers), never ``true`` or ``"10"``. The bounds live in the integer's own
    schema, so the document states them as ``minimum`` and ``maximum`` wherever the type is used."""

    ge: int | None = None
    le: int | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(
            _integral, core_schema.int_schema(strict=True, ge=self.ge, le=self.le)
        )


JsonFloat = Annotated[float, Strict()]
JsonBool = Annotated[bool, Strict()]


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


#: Unicode White_Space, the blanks that text fields strip from both ends (written out: regular expression engines
#: disagree on what ``\s`` means).
BLANKS = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_BLANK_CLASS = "\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
#: Text without NUL characters, and text that also holds something other than blanks.
ANY_TEXT = "^[^\\x00]*$"
FILLED_TEXT = f"^[^\\x00]*[^\\x00{_BLANK_CLASS}][^\\x00]*$"


@dataclass(frozen=True)
class Text:
    """Annotated metadata of request text, stated in the document as a pattern: no NUL characters; with
    ``filled``, something other than blanks; with ``strip``, blanks at both ends removed (lengths count the
    text as sent)."""

    filled: bool = True
    strip: bool = True

    def _check(self, value: str) -> str:
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        stripped = value.strip(BLANKS)
        if self.filled and not stripped:
            raise ValueError("text must not be empty" if not value else "text must hold something other than blanks")
        return stripped if self.strip else value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = FILLED_TEXT if self.filled else ANY_TEXT
        return json_schema


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise ValueError("leave the field out instead of sending null")
    return value


def _drop_null(schema: dict[str, Any]) -> None:
    options = [option for option in schema.pop("anyOf", []) if option != {"type": "null"}]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options
    schema.pop("default", None)


T = TypeVar("T")
#: A field that may be left out but, when sent, is not null (a PATCH field whose null would mean nothing).
Omittable = Annotated[T | None, BeforeValidator(_refuse_null), Field(json_schema_extra=_drop_null)]


@dataclass(frozen=True)
class Pattern:
    """Annotated metadata that states a ``pattern`` in the document for text another check enforces (one whose
    agreement with the pattern is tested), without checking it a second time."""

    pattern: str

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema
