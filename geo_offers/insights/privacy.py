"""Differential-privacy noise and k-suppression for published insight figures.

Noise is two-sided geometric (the discrete Laplace mechanism): integer counts get integer noise with
``P(X = x) ∝ exp(-epsilon * |x|)`` for a count of sensitivity 1, which is epsilon-differentially private and
has none of the floating-point pitfalls of sampling a continuous Laplace and rounding.

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
class Figure:
    """A published count: a number, or suppressed (None) when fewer than k events underlie it."""

    count: int | None
    suppressed: bool


SUPPRESSED = Figure(None, True)


@dataclass(frozen=True, slots=True)
class Publisher:
    """Turns true counts into published figures for one release."""

    key: bytes
    k: int

    def noisy(self, true_count: int, figure: str, epsilon: float) -> int:
        """The noised count (never published on its own when the true count is under k)."""
        return true_count + noise(self.key, figure, epsilon)

    def publish(self, true_count: int, noisy_count: int) -> Figure:
        """Suppressed unless the true count reaches k; otherwise the noised count, never shown under k.

        Clamping at k is post-processing of what is released anyway (the noised value and the fact that the
        figure was published), so it costs no privacy and keeps every shown number at or above k.
        """
        if true_count < self.k:
            return SUPPRESSED
        return Figure(max(self.k, noisy_count), False)

    def figure(self, true_count: int, figure: str, epsilon: float) -> Figure:
        """Noise and publish one figure."""
        return self.publish(true_count, self.noisy(true_count, figure, epsilon))
