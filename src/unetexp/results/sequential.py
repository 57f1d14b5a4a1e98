"""Deciding comparisons by adding seeds in rounds while the family-wise error rate holds: the
procedure `hydra/sweeper=decide` runs, and tests/test_sequential.py replays on simulated data.

The design is fixed before any run: a comparison is looked at after n_1 < n_2 < ... < n_K
paired seeds (`Design.looks`), each look a paired t-test. Its sequential p-value is the null
probability that the smallest p-value over all K planned looks is at most the smallest it
has seen (a Pocock-type group-sequential test). Under H0 the t statistics of normal
differences are free of the SD, so that null law is exact; it is computed once by Monte Carlo.
Stopping a comparison early (decided, out of budget, out of looks) can only raise its
sequential p-value, so it stays a valid p-value whatever the data made the sweep do, and
Holm over a table's sequential p-values holds the family-wise false-positive rate at alpha.
Equivalence likewise on the TOST p-values: a false "equivalent" at a true difference of
+-effect has probability at most alpha / comparisons. numpy + scipy.special; no Hydra."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from scipy.special import stdtr

from unetexp.errors import ConfigError
from unetexp.results.power import (
    holm,
    mean_zero_p,
    sd_of,
    seeds_for_equivalence,
    seeds_needed,
    tost_p,
    verdict,
)

MC_DRAWS, MC_CHUNK, MC_SEED = 200_000, 20_000, 20261125
SHAPE = 3.0  # look k gets a nominal level in proportion to (n_k / n_K) ** SHAPE: late looks,
# with more degrees of freedom, get most of the alpha (O'Brien-Fleming-like; 0 = Pocock)
MC_MIN_COUNT = 50  # below this many null draws the Monte Carlo tail is too thin: Bonferroni


@dataclass(frozen=True)
class Design:
    """What the sweep may do, fixed before it starts (the sweeper's keys)."""

    alpha: float = 0.05  # family-wise false-positive rate, per table
    effect: float = 0.01  # smallest difference that matters (metric units)
    power: float = 0.8  # for the seeds-needed figures that rank undecided comparisons
    initial_seeds: int = 3  # seeds 0..n-1 of every config in round 1
    seeds_per_round: int = 2  # seeds added per round to the configs of undecided comparisons
    max_rounds: int = 4  # looks; the last one has initial + (max_rounds - 1) * per_round seeds
    budget: int = 100  # most jobs (config x seed) of the sweep, reused FINISHED runs included

    @property
    def looks(self) -> tuple[int, ...]:
        return tuple(self.initial_seeds + k * self.seeds_per_round for k in range(self.max_rounds))

    def check(self, n_configs: int) -> None:
        """One ConfigError naming the key when the design cannot run."""
        rules = [
            ("alpha", 0 < self.alpha < 1, "must be in (0, 1)"),
            ("effect", self.effect > 0, "must be > 0 (metric units: 0.01 = one point)"),
            ("power", 0 < self.power < 1, "must be in (0, 1)"),
            ("initial_seeds", self.initial_seeds >= 2, "must be >= 2 (a paired t-test)"),
            ("seeds_per_round", self.seeds_per_round >= 1, "must be >= 1"),
            ("max_rounds", self.max_rounds >= 1, "must be >= 1"),
        ]
        for key, ok, allowed in rules:
            if not ok:
                raise ConfigError(
                    f"hydra.sweeper.{key}={getattr(self, key)!r} is invalid: {allowed}"
                )
        first = n_configs * self.initial_seeds
        if self.budget < first:
            raise ConfigError(
                f"hydra.sweeper.budget={self.budget} is invalid: the first round "
                f"alone is {first} runs ({n_configs} configs x {self.initial_seeds} seeds)"
            )


@dataclass(frozen=True)
class Comparison:
    family: str  # the study's table: Holm runs within it
    name: str  # model.depth: 3 vs 4
    a: str  # the configs compared (the sweep's keys for them)
    b: str
    a_label: str  # what the verdict calls them: "3 better"
    b_label: str


def weights(looks: tuple[int, ...]) -> np.ndarray:
    """How much of a comparison's level each look gets, relative to the last one."""
    return (np.array(looks, dtype=float) / looks[-1]) ** SHAPE


def weighted_minimum(p_by_look: dict[int, float], looks: tuple[int, ...]) -> float:
    """The statistic of the sequential test: the smallest p_k / w_k over the looks k seen."""
    w = weights(looks)
    return min((p / w[k] for k, p in p_by_look.items()), default=math.nan)


@lru_cache(maxsize=8)
def null_minima(looks: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted null draws of the smallest weighted two-sided and one-sided paired-t p-value
    over all the planned looks (differences N(0, 1); any SD gives the same law)."""
    rng = np.random.default_rng(MC_SEED)
    n, last, w = np.array(looks, dtype=float), np.array(looks) - 1, weights(looks)
    two, one = [], []
    for _ in range(MC_DRAWS // MC_CHUNK):
        x = rng.standard_normal((MC_CHUNK, looks[-1]))
        total, squares = x.cumsum(axis=1)[:, last], (x * x).cumsum(axis=1)[:, last]
        mean = total / n
        t = mean / np.sqrt((squares - n * mean**2) / (n - 1) / n)
        two.append((2.0 * stdtr(n - 1, -np.abs(t)) / w).min(axis=1))
        one.append((stdtr(n - 1, t) / w).min(axis=1))
    return np.sort(np.concatenate(two)), np.sort(np.concatenate(one))


def sequential_p(smallest: float, minima: np.ndarray, looks: tuple[int, ...]) -> float:
    """P0(weighted minimum over the planned looks <= smallest) from the null draws, kept
    within its exact limits: at least `smallest` (the last look alone), at most
    smallest x sum of weights (Bonferroni over the looks, also used where the draws are too
    few to estimate the tail)."""
    if math.isnan(smallest):
        return math.nan
    count = int(np.searchsorted(minima, smallest, side="right"))
    bound = min(1.0, float(weights(looks).sum()) * smallest)
    if count < MC_MIN_COUNT:
        return bound
    return float(min(max(count / len(minima), smallest), bound))


def look_stats(values_a: dict, values_b: dict, n: int, effect: float) -> dict | None:
    """The paired test of one look: seeds 0..n-1 of both configs; None while one is missing."""
    seeds = range(n)
    if any(s not in values_a or s not in values_b for s in seeds):
        return None
    d = [values_a[s] - values_b[s] for s in seeds]
    diff, sd = sum(d) / n, sd_of(d)
    return {
        "n": n,
        "diff": diff,
        "sd_diff": sd,
        "p": mean_zero_p(d),
        "p_tost": tost_p(diff, sd, n, effect),
    }


def evaluate(
    comparisons: list[Comparison], results: dict, reached: dict, design: Design
) -> list[dict]:
    """Every comparison at the looks it has reached: its last look's figures, its sequential
    p-values, Holm within its table, its verdict and, while undecided, the seeds it would
    need to be decided if its difference and SD stayed as observed."""
    two, one = null_minima(design.looks)
    rows = []
    for c in comparisons:
        looked = {
            k: look_stats(results.get(c.a, {}), results.get(c.b, {}), n, design.effect)
            for k, n in enumerate(design.looks)
            if n <= reached[c.name]
        }
        seen = {k: s for k, s in looked.items() if s}
        last = (
            seen[max(seen)]
            if seen
            else {"n": 0, "diff": math.nan, "sd_diff": math.nan, "p": math.nan, "p_tost": math.nan}
        )
        rows.append(
            {
                "table": c.family,
                "comparison": c.name,
                **last,
                "p_seq": sequential_p(
                    weighted_minimum({k: s["p"] for k, s in seen.items()}, design.looks),
                    two,
                    design.looks,
                ),
                "p_seq_tost": sequential_p(
                    weighted_minimum({k: s["p_tost"] for k, s in seen.items()}, design.looks),
                    one,
                    design.looks,
                ),
            }
        )
    for family in dict.fromkeys(c.family for c in comparisons):
        members = [(c, r) for c, r in zip(comparisons, rows, strict=False) if c.family == family]
        level = design.alpha / len(members)
        for (c, row), adjusted in zip(
            members, holm([r["p_seq"] for _, r in members]), strict=False
        ):
            row["p_seq_holm"] = adjusted
            equivalent = row["p_seq_tost"] < level
            row["verdict"] = verdict(
                adjusted < design.alpha, equivalent, row["diff"], c.a_label, c.b_label
            )
            row["seeds_to_decide"] = (
                math.nan
                if row["verdict"] != "undecided"
                else min(
                    _inf_if_nan(seeds_needed(row["diff"], row["sd_diff"], level, design.power)),
                    _inf_if_nan(
                        seeds_for_equivalence(row["diff"], row["sd_diff"], design.effect, level)
                    ),
                )
            )
    return rows


def _inf_if_nan(value: float) -> float:
    return math.inf if math.isnan(value) else value


def plan(
    comparisons: list[Comparison],
    rows: list[dict],
    active: set,
    target: dict,
    next_look: int,
    budget_left: int,
) -> tuple[dict, set]:
    """Seeds per config for the next round and the comparisons it continues: the undecided
    ones, fewest seeds-to-decide first, as many as the budget pays for."""
    undecided = sorted(
        (r["seeds_to_decide"], i)
        for i, (c, r) in enumerate(zip(comparisons, rows, strict=False))
        if r["verdict"] == "undecided" and c.name in active
    )
    new_target, continued, spent = dict(target), set(), 0
    for _, i in undecided:
        c = comparisons[i]
        extra = sum(max(0, next_look - new_target[x]) for x in {c.a, c.b})
        if spent + extra <= budget_left:
            spent += extra
            continued.add(c.name)
            for x in (c.a, c.b):
                new_target[x] = max(new_target[x], next_look)
    return new_target, continued


RunJobs = Callable[[list[tuple[str, int]]], dict]


def decide(
    design: Design,
    comparisons: list[Comparison],
    run_jobs: RunJobs,
    on_round: Callable[[dict], None] | None = None,
) -> dict:
    """Rounds until every comparison is decided or the looks or the budget run out.
    `run_jobs([(config, seed), ...])` runs those jobs and returns every result so far as
    {config: {seed: value}}; `on_round` sees each round's record as it ends."""
    configs = list(dict.fromkeys(x for c in comparisons for x in (c.a, c.b)))
    design.check(len(configs))
    looks = design.looks
    target, have = {x: looks[0] for x in configs}, {x: 0 for x in configs}
    reached = {c.name: looks[0] for c in comparisons}
    active, used, rounds = {c.name for c in comparisons}, 0, []
    for number in range(1, design.max_rounds + 1):
        jobs = [(x, seed) for x in configs for seed in range(have[x], target[x])]
        results = run_jobs(jobs)
        used, have = used + len(jobs), dict(target)
        rows = evaluate(comparisons, results, reached, design)
        for c, row in zip(comparisons, rows, strict=False):
            row["stopped"] = (
                ""
                if c.name in active and row["verdict"] == "undecided"
                else "decided"
                if row["verdict"] != "undecided"
                else "budget"
            )
        if number < design.max_rounds:
            target, active = plan(
                comparisons, rows, active, target, looks[number], design.budget - used
            )
        else:
            active = set()
        for row in rows:
            if row["stopped"] == "" and row["comparison"] not in active:
                row["stopped"] = "looks" if number == design.max_rounds else "budget"
        record = {
            "round": number,
            "jobs": len(jobs),
            "jobs_total": used,
            "undecided": sum(r["verdict"] == "undecided" for r in rows),
            "comparisons": rows,
        }
        rounds.append(record)
        if on_round:
            on_round(record)
        if not active:
            break
        for name in active:
            reached[name] = looks[number]
    decisions = rounds[-1]["comparisons"]
    for c, row in zip(
        comparisons, decisions, strict=False
    ):  # for the record only: costly in simulations
        level = design.alpha / sum(x.family == c.family for x in comparisons)
        row["seeds_for_effect"] = seeds_needed(design.effect, row["sd_diff"], level, design.power)
    needed = [r["seeds_for_effect"] for r in decisions]
    return {
        "design": asdict(design),
        "looks": list(looks),
        "jobs": used,
        "fixed_jobs_at_last_look": len(configs) * looks[-1],
        "fixed_jobs_for_effect": len(configs) * max(needed)
        if not any(map(math.isnan, needed))
        else None,
        "rounds": rounds,
        "decisions": decisions,
    }
