"""The noise and suppression of published figures, as properties (hypothesis) and as a distribution."""

from __future__ import annotations

import math
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from geo_offers.insights.privacy import SUPPRESSED, Count, Publisher, geometric, noise, noise_key

KEY = noise_key("a test pepper of sufficient length, 0123456789")
epsilons = st.floats(min_value=0.05, max_value=10.0, allow_nan=False)
figures = st.text(min_size=0, max_size=80)


@given(figure=figures, epsilon=epsilons)
def test_noise_is_a_deterministic_integer(figure: str, epsilon: float) -> None:
    value = noise(KEY, figure, epsilon)
    assert isinstance(value, int)
    assert noise(KEY, figure, epsilon) == value
    # Bounded by the smallest uniform the generator can draw (2**-53): no infinities, no overflow.
    assert abs(value) <= math.ceil(53 * math.log(2) / epsilon)


@given(u=st.floats(min_value=2**-53, max_value=1.0), v=st.floats(min_value=2**-53, max_value=1.0), epsilon=epsilons)
def test_geometric_is_non_negative_and_falls_as_the_uniform_grows(u: float, v: float, epsilon: float) -> None:
    low, high = sorted((u, v))
    assert geometric(high, epsilon) >= 0
    assert geometric(low, epsilon) >= geometric(high, epsilon)


@given(
    peak=st.integers(min_value=0, max_value=10**4),
    more=st.integers(min_value=0, max_value=10**6),
    k=st.integers(min_value=2, max_value=100),
    bound=st.integers(min_value=1, max_value=32),
    figure=figures,
)
def test_a_figure_is_published_exactly_when_one_of_its_hours_proves_k_people(
    peak: int, more: int, k: int, bound: int, figure: str
) -> None:
    published = Publisher(KEY, k, bound).figure(Count(total=peak + more, peak=peak), figure, 1.0, 4 * bound)
    if peak < k * bound:  # however large the total: spread over hours, it could be few people
        assert published == SUPPRESSED
    else:
        assert not published.suppressed and published.count is not None and published.count >= k * bound


@given(figure=figures)
def test_the_noise_depends_on_the_key_and_on_epsilon(figure: str) -> None:
    other = noise_key("another pepper of sufficient length, 987654321")
    draws = {(noise(KEY, f"{figure}{i}", 1.0), noise(other, f"{figure}{i}", 1.0)) for i in range(40)}
    assert any(a != b for a, b in draws)


def noise_variance(epsilon: float) -> float:
    """The variance of two-sided geometric noise at ``epsilon``: 2a / (1 - a)^2 with a = exp(-epsilon)."""
    a = math.exp(-epsilon)
    return 2 * a / (1 - a) ** 2


def test_the_noise_follows_the_two_sided_geometric_distribution() -> None:
    epsilon, n = 1.0, 40_000
    draws = [noise(KEY, f"figure {i}", epsilon) for i in range(n)]
    alpha = math.exp(-epsilon)
    mean = sum(draws) / n
    variance = sum((d - mean) ** 2 for d in draws) / n
    assert abs(mean) < 0.05
    assert abs(variance / noise_variance(epsilon) - 1) < 0.05
    counts = Counter(draws)
    assert abs(counts[0] / n - (1 - alpha) / (1 + alpha)) < 0.01
    # epsilon-DP: neighbouring counts are at most e^epsilon times more likely to give any one answer.
    for x in range(0, 4):
        ratio = counts[x] / counts[x + 1]
        assert abs(ratio - math.exp(epsilon)) < 0.35
        assert abs(counts[-x] / counts[x] - 1) < 0.1  # symmetric
