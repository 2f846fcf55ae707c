"""Profiling a worker under load with py-spy, summarised as the functions that hold the most samples."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from benchmarks.service import LOG_DIR

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> Path | None:
    """The py-spy executable next to this Python, if installed."""
    path = Path(sys.executable).parent / "py-spy"
    return path if path.exists() else None


def record(pid: int, seconds: float, load: Callable[[], object]) -> Path | None:
    """Sample ``pid`` (at 200 Hz, idle frames left out) while ``load()`` runs; the collapsed-stacks file."""
    tool = py_spy()
    if tool is None:
        return None
    out = LOG_DIR / f"profile-{pid}-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    command = [str(tool), "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "200", "--format", "raw"]
    recorder = subprocess.Popen([*command, "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    load()
    recorder.wait(60)
    return out if out.exists() else None


def _name(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    file = match.group("file")
    for marker in ("site-packages/", "/work/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{match.group('func')} ({file})"


def hotspots(path: Path, top: int = 15) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """(samples, top functions by own samples, top functions by samples including callees), main thread only."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_name(f) for f in stack.split(";") if f.strip()]
        # Only the event loop's thread: idle pool threads would otherwise fill the table with waits.
        if not frames or not any(f.startswith("Runner.run ") for f in frames):
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    return total, own.most_common(top), inclusive.most_common(top)


def print_hotspots(path: Path, top: int = 25) -> None:
    """Print the summary of a collapsed-stacks file."""
    total, own, inclusive = hotspots(path, top)
    print(f"  py-spy: {total:,} samples of one worker's event-loop thread ({path})")
    print("  by own time:")
    for name, count in own:
        print(f"    {count * 100 / max(total, 1):5.1f} %  {name}")
    print("  including callees:")
    for name, count in inclusive:
        print(f"    {count * 100 / max(total, 1):5.1f} %  {name}")
