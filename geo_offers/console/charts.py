"""Charts drawn on the server as SVG geometry (no chart library, no script): bars per day, a week heat map.

A suppressed figure is never drawn as a zero: it gets a hatched stub and the word "suppressed" in its title
and in the table beside the chart, because "fewer than k" is all that is known about it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 26
STUB = 6  # height of a suppressed figure's marker: visibly not a bar, visibly not nothing
HEAT_LEVELS = 5


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int | None
    suppressed: bool


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[Bar]  # the bars whose date is written under the axis
    baseline: float


def _nice_max(value: int) -> int:
    if value <= 5:
        return 5
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return int(step * magnitude)
    return value


def bar_chart(points: Sequence[tuple[str, int | None]]) -> Chart:
    """Bars for (label, value) points; None is a suppressed figure."""
    top = _nice_max(max((v for _, v in points if v is not None), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(points), 1)
    baseline = TOP + plot_h
    bars: list[Bar] = []
    for i, (label, value) in enumerate(points):
        x = LEFT + i * slot + slot * 0.15
        if value is None:
            bars.append(Bar(x, baseline - STUB, slot * 0.7, STUB, label, None, True))
        else:
            height = plot_h * value / top
            bars.append(Bar(x, baseline - height, slot * 0.7, height, label, value, False))
    ticks = [Tick(baseline - plot_h * f, str(round(top * f))) for f in (0, 0.5, 1)]
    every = max(1, math.ceil(len(bars) / 7))
    return Chart(WIDTH, HEIGHT, bars, ticks, bars[::every], baseline)


@dataclass(frozen=True, slots=True)
class HeatCell:
    weekday: int
    hour: int
    value: int | None
    level: int  # 0..HEAT_LEVELS-1 for published figures; -1 for suppressed


def heat_rows(hours: Sequence[tuple[int, int | None]]) -> list[list[HeatCell]]:
    """Seven rows (Monday first) of 24 cells from (hour of week, value) pairs; None is suppressed."""
    values = dict(hours)
    top = max((v for v in values.values() if v is not None), default=0)
    rows: list[list[HeatCell]] = []
    for day in range(7):
        row = []
        for hour in range(24):
            value = values.get(day * 24 + hour)
            if value is None:
                row.append(HeatCell(day, hour, None, -1))
            else:
                level = min(HEAT_LEVELS - 1, int(value / top * HEAT_LEVELS)) if top else 0
                row.append(HeatCell(day, hour, value, level))
        rows.append(row)
    return rows


def type_series(days: Sequence[dict[str, Any]], name: str) -> list[tuple[str, int | None]]:
    """(day, figure) of one type (served, impression, click, redeem) from a deal insight's days; suppressed
    figures as None."""
    series: list[tuple[str, int | None]] = []
    for row in days:
        figure = row["counts"][name]
        series.append((row["day"], None if figure["suppressed"] else int(figure["count"])))
    return series


@dataclass(frozen=True, slots=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    kind: str
    value: int
    label: str


@dataclass(frozen=True, slots=True)
class StackedChart:
    width: int
    height: int
    segments: list[Segment]
    ticks: list[Tick]
    labels: list[tuple[float, str]]
    baseline: float


def stacked_chart(days: Sequence[tuple[str, dict[str, int]]], kinds: Sequence[str]) -> StackedChart:
    """One bar per day, stacked by kind (the ledger summary: events by type)."""
    top = _nice_max(max((sum(counts.get(k, 0) for k in kinds) for _, counts in days), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    baseline = TOP + plot_h
    segments: list[Segment] = []
    labels: list[tuple[float, str]] = []
    every = max(1, math.ceil(len(days) / 7))
    for i, (label, counts) in enumerate(days):
        x = LEFT + i * slot + slot * 0.15
        y: float = baseline
        for kind in kinds:
            value = counts.get(kind, 0)
            if value:
                height = plot_h * value / top
                y -= height
                segments.append(Segment(x, y, slot * 0.7, height, kind, value, label))
        if i % every == 0:
            labels.append((x + slot * 0.35, label))
    ticks = [Tick(baseline - plot_h * f, str(round(top * f))) for f in (0, 0.5, 1)]
    return StackedChart(WIDTH, HEIGHT, segments, ticks, labels, baseline)
