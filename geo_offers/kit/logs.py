"""JSON-lines logging with a redaction filter that keeps personal data out of every log line.

What is scrubbed, whatever logger wrote it: API keys and bearer tokens, UUIDs (subject ids are UUIDs),
coordinates (decimal numbers with four or more decimals), IPv4 and IPv6 addresses, and H3 cell strings.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"gok_[0-9A-Za-z_-]{8,}"), "[key]"),
    (re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"), r"\1[key]"),
    (re.compile(r"(?i)\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b"), "[id]"),
    (re.compile(r"(?i)\b(lat|lon|lng|latitude|longitude)(\W{0,3}?)[:=]\s*-?\d+(?:\.\d+)?"), r"\1\2=[coord]"),
    (re.compile(r"-?\b\d{1,3}\.\d{4,}\b"), "[coord]"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), "[ip]"),
    (re.compile(r"(?i)\b8[0-9a-f]{14}\b"), "[cell]"),
]


_IPV6_CANDIDATE = re.compile(r"(?i)(?<![\w:.])[0-9a-f:]*:[0-9a-f:]*:[0-9a-f.:]*(?:%\w+)?(?![\w:])")


def _ipv6(match: re.Match[str]) -> str:
    candidate = match.group(0).split("%", 1)[0]
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return match.group(0)
    return "[ip]"


_COORDINATES_KEY = re.compile(r"(?i)coordinates\W{0,3}?[:=]\s*(?=\[)")


def _drop_coordinate_arrays(text: str) -> str:
    # GeoJSON "coordinates": [...] nests up to four levels; cut the whole balanced bracket run.
    out: list[str] = []
    pos = 0
    for match in _COORDINATES_KEY.finditer(text):
        if match.start() < pos:
            continue
        depth, end = 0, match.end()
        for end in range(match.end(), len(text)):
            depth += {"[": 1, "]": -1}.get(text[end], 0)
            if depth == 0:
                break
        out.append(text[pos : match.end()] + "[coord]")
        pos = end + 1
    out.append(text[pos:])
    return "".join(out)


def redact(text: str) -> str:
    """``text`` with keys, ids, coordinates, addresses and cells replaced by placeholders."""
    text = _drop_coordinate_arrays(text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _IPV6_CANDIDATE.sub(_ipv6, text)


class RedactingFilter(logging.Filter):
    """Formats the message (and any traceback) early and scrubs it, so no handler sees the raw values."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, traceback and selected extras."""

    EXTRAS = ("route", "method", "status", "duration_ms", "event", "count")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in self.EXTRAS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        # A last pass over the whole line: extras and anything a filter did not see are scrubbed too.
        return redact(orjson.dumps(entry, default=str).decode())


def configure_logging(level: str = "INFO", stream: Any = None) -> logging.Handler:
    """Route the root, uvicorn and library loggers through one redacting JSON handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_geo_offers", False):
            root.removeHandler(old)
    handler._geo_offers = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # uvicorn's access log prints client addresses and raw paths (which may hold subject ids): off.
    logging.getLogger("uvicorn.access").disabled = True
    return handler
