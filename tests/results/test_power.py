"""Power, equivalence and the group-sequential decisions of hydra/sweeper=decide, checked
against scipy.stats and by simulating whole sweeps from known normal distributions (no
training): the family-wise false-positive rate holds, the power is near its target."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli
from scipy import stats

from unetexp.results.power import paired_power, seeds_needed, tost_p
from unetexp.results.sequential import (
    Comparison,
    Design,
    decide,
    null_minima,
    sequential_p,
    weights,
)
from unetexp.results.study import check_conclusions


def test_paired_power_is_the_noncentral_t():
    n, delta, sd, level = 7, 0.01, 0.012, 0.0125
    crit = stats.t.ppf(1 - level / 2, n - 1)
    ncp = delta / sd * math.sqrt(n)
    expected = stats.nct.sf(crit, n - 1, ncp) + stats.nct.cdf(-crit, n - 1, ncp)
    assert paired_power(n, delta, sd, level) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    "delta, sd, level",
    [(0.01, 0.012, 0.0125), (0.002, 0.01, 0.05), (0.05, 0.01, 0.025), (0.01, 0.001, 0.05)],
)
def test_seeds_needed_is_the_fewest_with_enough_power(delta, sd, level):
    n = seeds_needed(delta, sd, level, 0.8)
    assert paired_power(int(n), delta, sd, level) >= 0.8
    assert n == 2 or paired_power(int(n) - 1, delta, sd, level) < 0.8


def test_seeds_needed_without_a_spread_or_an_effect():
    assert math.isnan(seeds_needed(0.01, 0.0, 0.05)) and math.isnan(seeds_needed(0.0, 0.01, 0.05))
    assert seeds_needed(1e-9, 1.0, 0.05) == math.inf


def test_tost_is_the_interval_inside_plus_minus_effect():
    d = np.array([0.001, -0.002, 0.0015, 0.0, 0.0005])
    n, sd, level = len(d), d.std(ddof=1), 0.05
    low, high = stats.t.interval(1 - 2 * level, n - 1, loc=d.mean(), scale=sd / math.sqrt(n))
    for effect in (0.001, 0.002, 0.005):
        assert (tost_p(d.mean(), sd, n, effect) < level) == (-effect < low and high < effect)


def runs_frame(values: dict) -> pd.DataFrame:
    """Runs of table 1 (depth): accuracies per depth, one per seed."""
    return pd.DataFrame(
        [
            {
                "seed": seed,
                "model.depth": depth,
                "model.convs": 1,
                "model.upsample": "transpose",
                "model.transpose_kernel": 2,
                "model.bottleneck": 128,
                "loss.name": "bce",
                "test_accuracy": accuracy,
            }
            for depth, accuracies in values.items()
            for seed, accuracy in enumerate(accuracies)
        ]
    )


def test_conclusions_carry_power_columns_and_verdicts():
    runs = runs_frame(
        {
            3: [0.800, 0.810, 0.820],
            4: [0.700, 0.715, 0.720],
            1: [0.8001, 0.8102, 0.8199],
            2: [0.79, 0.83, 0.80],
        }
    )
    result = check_conclusions(runs, effect=0.01).set_index("comparison")
    main = result.loc["model.depth: 3 vs 4"]
    d = np.array([0.1, 0.095, 0.1])
    assert main["sd_diff"] == pytest.approx(d.std(ddof=1))
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3)
    assert (main["ci_low"], main["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert main["verdict"] == "3 better"
    # three comparisons in the family: the seeds are for the Bonferroni level 0.05 / 3
    assert main["seeds_for_effect"] == seeds_needed(0.01, d.std(ddof=1), 0.05 / 3)
    assert main["seeds_for_diff"] == seeds_needed(d.mean(), d.std(ddof=1), 0.05 / 3)
    assert result.loc["model.depth: 3 vs 1", "verdict"] == "equivalent"
    assert result.loc["model.depth: 3 vs 2", "verdict"] == "undecided"


def test_compare_prints_the_seeds_needed(tmp_path):
    runs_frame({3: [0.80, 0.81, 0.82], 4: [0.79, 0.805, 0.80]}).assign(sweep="depth").to_csv(
        tmp_path / "a.csv", index=False
    )
    out = run_cli("compare", str(tmp_path / "a.csv"), "--effect", "0.02", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "seeds_for_diff" in out.stdout and "seeds_for_effect" in out.stdout
    assert "an effect of 0.02" in out.stdout and "| undecided |" in out.stdout


def test_sequential_p_stays_within_its_exact_limits():
    looks = Design().looks
    two, _ = null_minima(looks)
    for p in (1e-7, 1e-4, 0.001, 0.01, 0.2):
        q = sequential_p(p, two, looks)
        assert p <= q <= weights(looks).sum() * p + 1e-12
    assert math.isnan(sequential_p(math.nan, two, looks))


def family(n: int, reference: str = "r") -> list[Comparison]:
    """A table like depth: every config against one reference (shared by all comparisons)."""
    return [Comparison("t", f"x: r vs c{i}", reference, f"c{i}", "r", f"c{i}") for i in range(n)]


def simulator(means: dict, rng, noise: float = 0.01):
    """run_jobs for decide(): a seed shifts every config alike (its data split), each run
    adds its own noise; returns (run_jobs, jobs asked for)."""
    seed_shift = rng.normal(0.0, noise, 1000)
    results, asked = {}, []

    def run_jobs(jobs):
        asked.append(list(jobs))
        for config, seed in jobs:
            results.setdefault(config, {})[seed] = (
                means[config] + seed_shift[seed] + rng.normal(0, noise)
            )
        return results

    return run_jobs, asked


def test_seeds_go_only_to_undecided_comparisons_within_the_budget():
    means = {"r": 0.8, "c0": 0.5, "c1": 0.8}  # r vs c0 decided at once, r vs c1 not
    rng = np.random.default_rng(0)
    run_jobs, asked = simulator(means, rng, noise=0.001)
    design = Design(effect=1e-6, budget=100, max_rounds=3)
    result = decide(design, family(2), run_jobs)
    assert asked[0] == [(c, s) for c in ("r", "c0", "c1") for s in range(3)]
    assert asked[1] == [(c, s) for c in ("r", "c1") for s in (3, 4)]
    first, second = result["decisions"]
    assert first["verdict"] == "r better" and first["n"] == 3 and first["stopped"] == "decided"
    assert second["n"] == 7 and second["stopped"] == "looks" and result["jobs"] == 9 + 4 + 4
    # a budget that pays for round 1 only
    run_jobs, asked = simulator(means, rng, noise=0.001)
    result = decide(Design(effect=1e-6, budget=12), family(2), run_jobs)
    assert len(asked) == 1 and result["jobs"] == 9 and result["decisions"][1]["stopped"] == "budget"


def simulate(design: Design, comparisons, means: dict, reps: int, seed: int):
    """Verdicts of `reps` whole sweeps and their mean number of jobs."""
    rng, verdicts, jobs = np.random.default_rng(seed), [], 0
    for _ in range(reps):
        result = decide(design, comparisons, simulator(means, rng)[0])
        verdicts.append([row["verdict"] for row in result["decisions"]])
        jobs += result["jobs"]
    return verdicts, jobs / reps


def upper_bound(rate: float, reps: int) -> float:
    """`rate` plus three binomial standard errors: what a true rate <= `rate` stays under."""
    return rate + 3 * math.sqrt(rate * (1 - rate) / reps)


DESIGN = Design(
    alpha=0.05, effect=0.01, initial_seeds=3, seeds_per_round=2, max_rounds=4, budget=1000
)


def test_family_wise_false_positive_rate_holds_where_naive_looks_inflate_it():
    """Four true nulls sharing their reference config, up to four looks each: no verdict
    "better" in at least 95 % of the sweeps; the naive procedure (Holm on plain t-tests,
    stop at the first look that rejects) fails the same check."""
    reps = 1500
    means = {"r": 0.8, **{f"c{i}": 0.8 for i in range(4)}}
    verdicts, _ = simulate(DESIGN, family(4), means, reps, seed=1)
    false_positive = np.mean([any(v.endswith("better") for v in row) for row in verdicts])
    assert false_positive <= upper_bound(DESIGN.alpha, reps), false_positive

    rng = np.random.default_rng(
        2
    )  # naive: same model, every look analysed as if it were the only one
    n_max = DESIGN.looks[-1]
    shift = rng.normal(0, 0.01, (reps, 1, n_max))
    values = 0.8 + shift + rng.normal(0, 0.01, (reps, 5, n_max))
    diffs = values[:, :1, :] - values[:, 1:, :]
    rejected = np.zeros(reps, dtype=bool)
    for n in DESIGN.looks:
        p = stats.ttest_1samp(diffs[:, :, :n], 0.0, axis=2).pvalue
        rejected |= (
            p.min(axis=1) * 4 < DESIGN.alpha
        )  # Holm rejects something iff its first step does
    assert rejected.mean() > upper_bound(DESIGN.alpha, reps), rejected.mean()


def test_power_is_near_its_target_with_fewer_runs():
    """A true difference that a fixed 9-seed design detects with 80 % power: the sequential
    design finds it about as often, with fewer runs on average."""
    sd_diff, n_max = 0.01 * math.sqrt(2), DESIGN.looks[-1]
    low, high = 0.0, 0.1
    for _ in range(50):  # the difference with power 0.8 at the last look
        middle = (low + high) / 2
        low, high = (
            (middle, high)
            if paired_power(n_max, middle, sd_diff, DESIGN.alpha) < 0.8
            else (low, middle)
        )
    reps = 600
    verdicts, jobs = simulate(DESIGN, family(1), {"r": 0.8 + high, "c0": 0.8}, reps, seed=3)
    power = np.mean([row[0] == "r better" for row in verdicts])
    assert 0.8 - 0.08 <= power <= 0.8 + 0.08, power
    assert jobs < 2 * n_max


def test_false_equivalence_is_rare_at_the_margin():
    """A true difference of exactly `effect`: declared equivalent in at most alpha of sweeps."""
    reps = 800
    verdicts, _ = simulate(DESIGN, family(1), {"r": 0.8 + DESIGN.effect, "c0": 0.8}, reps, seed=4)
    assert np.mean([row[0] == "equivalent" for row in verdicts]) <= upper_bound(DESIGN.alpha, reps)
