"""How many seeds a conclusion needs, and whether it is decided: paired-t power (noncentral t),
intervals, TOST-style equivalence and Holm's correction. scipy.special only (a third of
scipy.stats' import time); no Hydra, no TensorFlow."""

from __future__ import annotations

import math

from scipy.special import nctdtr, ndtri, stdtr, stdtrit

MAX_SEEDS = 10_000  # beyond this, "seeds needed" is reported as inf


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone)."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted, running = [math.nan] * len(p_values), 0.0
    for rank, (p, i) in enumerate(tested):  # NaN (untestable) comparisons do not count
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[i] = running
    return adjusted


def sd_of(values) -> float:
    """Sample standard deviation (n - 1); 0 for fewer than two values."""
    n = len(values)
    mean = sum(values) / n if n else 0.0
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0


def mean_zero_p(d: list[float]) -> float:
    """Two-sided p-value of the one-sample t-test that the mean of `d` is 0 (the paired t-test
    of the differences `d`); NaN without a spread. Plain floats: a few values, many calls."""
    n, sd = len(d), sd_of(d)
    if not sd > 0:
        return math.nan
    return float(2.0 * stdtr(n - 1, -abs(sum(d) / n) / (sd / math.sqrt(n))))


def t_quantile(q: float, df: float) -> float:
    return float(stdtrit(df, q))


def paired_power(n: int, delta: float, sd: float, level: float) -> float:
    """Probability that a two-sided paired t-test at `level` with `n` seeds rejects when the
    true mean difference is `delta` and the differences' SD is `sd` (noncentral t)."""
    crit = t_quantile(1.0 - level / 2.0, n - 1)
    ncp = abs(delta) / sd * math.sqrt(n)
    # nctdtr gives NaN far in a tail, where the probability is 0 to many digits
    upper, lower = (float(nctdtr(n - 1, ncp, x)) for x in (crit, -crit))
    return 1.0 - (0.0 if math.isnan(upper) else upper) + (0.0 if math.isnan(lower) else lower)


def _z(q: float) -> float:
    return float(ndtri(q))


def seeds_needed(delta: float, sd: float, level: float, power: float = 0.8) -> float:
    """The fewest seeds per config with which a paired t-test at `level` detects a true
    difference `delta` with probability `power`: NaN when delta or sd is 0 or unknown, inf
    past MAX_SEEDS."""
    if not (sd > 0) or not (abs(delta) > 0):
        return math.nan
    guess = ((_z(1 - level / 2) + _z(power)) * sd / delta) ** 2  # the normal approximation
    return fewest_seeds(lambda n: paired_power(n, delta, sd, level) >= power, guess)


def fewest_seeds(enough, guess: float) -> float:
    """The smallest n in 2..MAX_SEEDS for which `enough(n)` (monotone in n) holds, stepping
    from a close `guess`; inf when not even MAX_SEEDS is enough."""
    n = int(min(max(2, math.ceil(guess)), MAX_SEEDS))
    if not enough(n):
        if not enough(MAX_SEEDS):
            return math.inf
        while not enough(n + 1):
            n += 1
        return float(n + 1)
    while n > 2 and enough(n - 1):
        n -= 1
    return float(n)


def seeds_for_equivalence(diff: float, sd: float, effect: float, level: float) -> float:
    """The fewest seeds with which the TOST interval (1 - 2 level) around `diff` would fit
    inside +-effect if the difference and SD stayed as observed: inf when |diff| >= effect."""
    if not (sd > 0) or math.isnan(diff):
        return math.nan
    room = effect - abs(diff)
    if room <= 0:
        return math.inf
    guess = (_z(1 - level) * sd / room) ** 2
    return fewest_seeds(lambda n: t_quantile(1.0 - level, n - 1) * sd / math.sqrt(n) < room, guess)


def half_width(sd: float, n: int, tail: float) -> float:
    """Half-width of the t interval of a mean of `n` values that leaves `tail` on each side."""
    if n < 2 or math.isnan(sd):
        return math.nan
    return t_quantile(1.0 - tail, n - 1) * sd / math.sqrt(n)


def tost_p(diff: float, sd: float, n: int, effect: float) -> float:
    """p-value of the two one-sided tests that the true difference lies inside +-effect (the
    larger of the two one-sided p-values); NaN without a spread."""
    if n < 2 or not (sd > 0):
        return math.nan
    se = sd / math.sqrt(n)
    below = stdtr(n - 1, -(diff + effect) / se)  # H0: diff <= -effect
    above = stdtr(n - 1, (diff - effect) / se)  # H0: diff >= +effect
    return float(max(below, above))


def verdict(significant: bool, equivalent: bool, diff: float, a: str, b: str) -> str:
    """What a reader takes away from one comparison."""
    if significant:
        return f"{a if diff > 0 else b} better"
    return "equivalent" if equivalent else "undecided"


def assess(
    diff: float,
    sd: float,
    n: int,
    p_holm: float,
    family_size: int,
    a: str,
    b: str,
    effect: float,
    alpha: float = 0.05,
    power: float = 0.8,
) -> dict:
    """Power columns of one fixed-sample comparison of a family of `family_size`: its 95 %
    interval, the seeds per config needed for 80 % power at the family's Bonferroni level
    (Holm's first step, so never too few) for the observed difference and for `effect`, and
    the verdict: significant after Holm, else equivalent when the (1 - 2 level) interval lies
    inside +-effect (TOST at the family's Bonferroni level), else undecided."""
    level = alpha / family_size
    half = half_width(sd, n, 0.025)
    equivalent = tost_p(diff, sd, n, effect) < level
    return {
        "ci_low": diff - half,
        "ci_high": diff + half,
        "sd_diff": sd,
        "seeds_for_diff": seeds_needed(diff, sd, level, power),
        "seeds_for_effect": seeds_needed(effect, sd, level, power),
        "verdict": verdict(p_holm < alpha, equivalent, diff, a, b),
    }
