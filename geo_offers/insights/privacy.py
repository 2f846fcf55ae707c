"""Differential-privacy noise and k-suppression for published insight figures.

Noise is two-sided geometric (the discrete Laplace mechanism): integer counts get integer noise with
``P(X = x) ∝ exp(-(epsilon / s) * |x|)`` for figures of L1 sensitivity s, which is epsilon-differentially private
and has none of the floating-point pitfalls of sampling a continuous Laplace and rounding.

The unit protected is one person's activity in one UTC hour. A person adds at most one to an hourly counter in
each process that counts them (``people.py``), so at most P to it across the service (``Settings.counting_bound``),
and a figure is a sum of hourly counters. Two consequences, both exact:

- sensitivity: one person-hour changes a group of figures by at most P times the number of its figures the hour
  lies in (a deal's four kinds: 4P; an activity release: P), and the noise is scaled to that;
- "at least k people": a figure is published only when one of the hourly counters it sums reaches k * P. That
  counter alone holds at least k different people (none adds more than P to it), so the figure, its sum, does too.
  A total of k * P spread over several hours proves less (one person could be in each hour), so it is not enough.

The noise of a figure is a deterministic function of a secret key and the figure's canonical description
(what is counted, over which closed period, in which time zone, at which epsilon). Asking again, or asking
for the same figure through a different query, returns the same value, so averaging repeated answers gains
nothing. The key is derived from the pseudonym pepper, so it is as secret and as stable as that.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass

MECHANISM = "two-sided geometric (discrete Laplace)"
_NOISE_CONTEXT = b"geo-offers insight noise v1"
_UNIFORM_BITS = 53


def noise_key(pepper: str) -> bytes:
    """The noise key: a domain-separated derivative of the pepper (the pepper itself is never reused raw)."""
    return hmac.new(pepper.encode(), _NOISE_CONTEXT, hashlib.sha256).digest()


def _uniforms(key: bytes, figure: str, epsilon: float) -> tuple[float, float]:
    digest = hmac.new(key, f"{figure}|epsilon={epsilon!r}".encode(), hashlib.sha256).digest()
    shift = 64 - _UNIFORM_BITS
    first = int.from_bytes(digest[:8], "big") >> shift
    second = int.from_bytes(digest[8:16], "big") >> shift
    scale = float(1 << _UNIFORM_BITS)
    return (first + 1) / scale, (second + 1) / scale  # both in (0, 1]


def geometric(uniform: float, epsilon: float) -> int:
    """A geometric variate on {0, 1, ...} with P(g) = (1 - a) a^g, a = exp(-epsilon), from a uniform in (0, 1]."""
    return int(math.floor(math.log(uniform) / -epsilon))


def noise(key: bytes, figure: str, epsilon: float) -> int:
    """Two-sided geometric noise for one figure, the same for the same key, figure and epsilon."""
    if not epsilon > 0:
        raise ValueError("epsilon must be positive")
    first, second = _uniforms(key, figure, epsilon)
    return geometric(first, epsilon) - geometric(second, epsilon)


@dataclass(frozen=True, slots=True)
class Count:
    """A figure's true count and its peak: the largest hourly counter the figure sums."""

    total: int
    peak: int


NONE = Count(0, 0)


def combined(counts: list[Count]) -> Count:
    """The count of a figure that sums other figures (a week of days): totals add, the peak is the largest."""
    return Count(sum(c.total for c in counts), max((c.peak for c in counts), default=0))


@dataclass(frozen=True, slots=True)
class Figure:
    """A published count: a number, or suppressed (None) when it cannot be shown to rest on k people."""

    count: int | None
    suppressed: bool


SUPPRESSED = Figure(None, True)


def noise_scale(epsilon: float, sensitivity: int) -> float:
    """The geometric noise's parameter per unit of count: epsilon over the L1 sensitivity of the figures."""
    return epsilon / sensitivity


@dataclass(frozen=True, slots=True)
class Publisher:
    """Turns true counts into published figures for one release: k people, P processes per person."""

    key: bytes
    k: int
    bound: int = 1

    @property
    def threshold(self) -> int:
        """What one hourly counter of a figure must reach: k people, each adding at most P."""
        return self.k * self.bound

    def noisy(self, true_count: int, figure: str, epsilon: float, sensitivity: int) -> int:
        """The noised count, for figures of that L1 sensitivity (never published on its own under the threshold)."""
        return true_count + noise(self.key, figure, noise_scale(epsilon, sensitivity))

    def publish(self, count: Count, noisy_count: int) -> Figure:
        """Suppressed unless one hourly counter of the figure reaches k * P; otherwise the noised count, never
        shown under k * P.

        Clamping is post-processing of what is released anyway (the noised value and the fact that the figure
        was published), so it costs no privacy and keeps every shown number at or above what a published figure
        holds at least.
        """
        if count.peak < self.threshold:
            return SUPPRESSED
        return Figure(max(self.threshold, noisy_count), False)

    def figure(self, count: Count, figure: str, epsilon: float, sensitivity: int) -> Figure:
        """Noise and publish one figure."""
        return self.publish(count, self.noisy(count.total, figure, epsilon, sensitivity))
