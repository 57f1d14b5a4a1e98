"""`hydra/sweeper=decide`: run a table's configs with a few seeds, then add seeds only to the
configs of the study's comparisons that are still undecided (neither significant nor
equivalent), in rounds, within a budget of runs (unetexp.sequential: why the error rates
hold). Jobs go through whatever launcher is configured (basic, joblib, Ray); their results
are read back from MLflow, never from the jobs' return values, and FINISHED runs are reused
as in any multirun (config_hash). Rounds and decisions go on the sweep's parent run
(unetexp.decisions)."""

# no `from __future__ import annotations`: Hydra's plugin scan runs this module outside
# sys.modules, where dataclasses cannot resolve string annotations
import logging
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

from unetexp.config.compose import task_config
from unetexp.config.hydra_private import BasicSweeper
from unetexp.config.sweeper_base import LaunchingSweeper
from unetexp.errors import ConfigError, UnetexpError

log = logging.getLogger(__name__)


@dataclass
class DecideSweeperConf:
    _target_: str = "hydra_plugins.unetexp_decide_sweeper.decide_sweeper.DecideSweeper"
    budget: int = 100  # most jobs (config x seed) of the sweep, reused FINISHED runs included
    effect: float = 0.01  # smallest difference that matters, in metric units
    alpha: float = 0.05  # family-wise false-positive rate per table
    power: float = 0.8  # ranks undecided comparisons when the budget cannot pay for all
    initial_seeds: int = 3  # round 1: seeds 0..initial_seeds-1 of every config
    seeds_per_round: int = 2
    max_rounds: int = 4
    metric: str = "test_accuracy"
    params: dict[str, str] | None = None  # the sweep's choices, as for the basic sweeper


ConfigStore.instance().store(
    group="hydra/sweeper", name="decide", node=DecideSweeperConf, provider="unetexp"
)


class DecideSweeper(LaunchingSweeper):
    name = "decide"

    def __init__(
        self,
        budget: int,
        effect: float,
        alpha: float,
        power: float,
        initial_seeds: int,
        seeds_per_round: int,
        max_rounds: int,
        metric: str,
        params: dict[str, str] | None = None,
    ) -> None:
        from unetexp.results.sequential import Design

        super().__init__()
        self.design = Design(
            alpha=alpha,
            effect=effect,
            power=power,
            initial_seeds=initial_seeds,
            seeds_per_round=seeds_per_round,
            max_rounds=max_rounds,
            budget=budget,
        )
        self.metric, self.params = metric, params or {}

    def _sweep(self, arguments: list[str]) -> dict:
        from unetexp.results import decisions, sequential

        choices = self._choices(arguments)
        composed = {
            key: self._compose([*overrides, "seed=0"]) for key, overrides in choices.items()
        }
        parent_run_id = self._parent_run_id(next(iter(composed.values())))
        tracking_cfg = next(iter(composed.values())).tracking
        comparisons = table_comparisons({k: task_config(c) for k, c in composed.items()})
        self._save_multirun()

        def run_jobs(jobs: list[tuple[str, int]]) -> dict:
            self._launch(
                [choices[key] + [f"seed={seed}"] for key, seed in jobs],
                tracking_cfg.uri,
                parent_run_id,
            )
            return read_results(tracking_cfg, parent_run_id, composed, self.metric)

        result = sequential.decide(
            self.design,
            comparisons,
            run_jobs,
            on_round=lambda record: decisions.record_round(tracking_cfg.uri, parent_run_id, record),
        )
        decisions.record_final(tracking_cfg.uri, parent_run_id, result)
        return result

    def _choices(self, arguments: list[str]) -> dict[str, list[str]]:
        """Every combination of the sweep's values (seed excluded), keyed by its overrides."""
        assert self.hydra_context is not None  # Hydra calls setup() before sweep()
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides([f"{k}={v}" for k, v in self.params.items()] + arguments)
        if any(o.get_key_element().lstrip("+~") == "seed" for o in overrides):
            raise ConfigError(
                "hydra/sweeper=decide chooses the seeds (0, 1, ... as rounds need "
                "them): drop seed=..., set hydra.sweeper.initial_seeds instead"
            )
        swept = [o.get_key_element() for o in overrides if o.is_sweep_override()]
        combos = BasicSweeper.split_arguments(overrides, None)[0]
        return {
            " ".join(c for c in combo if c.split("=", 1)[0] in swept) or "base": list(combo)
            for combo in combos
        }


def table_comparisons(configs: dict[str, DictConfig]):
    """The study's comparisons (sweeps/reference/conclusions.csv) whose two configs the sweep
    holds, each with its table as its Holm family."""
    import pandas as pd

    from unetexp.config.hashing import flatten
    from unetexp.results.sequential import Comparison
    from unetexp.results.study import conclusions, tables

    frame = pd.DataFrame([{"key": k, **flatten(c)} for k, c in configs.items()])
    by_name, found = {t.name: t for t in tables()}, []
    for _, c in conclusions().iterrows():
        table = by_name[c["sweep"]]
        selected = table.select(frame)
        arms = [
            selected[selected[table.factor].astype(str) == value]["key"].tolist()
            for value in (c["a"], c["b"])
        ]
        if any(len(keys) > 1 for keys in arms):
            raise ConfigError(
                f"configs {', '.join(k for keys in arms for k in keys)} are each "
                f"{table.factor}={c['a']} or {c['b']} of table {table.name}: sweep one "
                f"value of every other key"
            )
        if all(arms):
            found.append(
                Comparison(
                    table.name,
                    f"{table.factor}: {c['a']} vs {c['b']}",
                    arms[0][0],
                    arms[1][0],
                    c["a"],
                    c["b"],
                )
            )
    if not found:
        raise ConfigError(
            "hydra/sweeper=decide: the swept configs hold none of the study's "
            "comparisons (sweeps/reference/conclusions.csv): sweep a table, e.g. "
            "+sweep=depth or +sweep=all"
        )
    return found


def read_results(
    tracking_cfg, parent_run_id: str, composed: dict[str, DictConfig], metric: str
) -> dict[str, dict[int, float]]:
    """{config: {seed: metric}} of the FINISHED runs of this sweep (trained or reused), matched
    by config hash as the skip matches them."""
    from unetexp.config.hashing import config_hash
    from unetexp.results.runs import load_runs

    try:
        runs = load_runs(tracking_cfg.uri, tracking_cfg.experiment, parent=parent_run_id)
    except UnetexpError:  # no FINISHED run yet
        return {}
    if metric not in runs.columns:
        raise ConfigError(
            f"hydra.sweeper.metric={metric!r} is invalid: the runs log "
            f"{', '.join(c for c in runs.columns if c.startswith('test_'))}"
        )
    by_hash = dict(zip(runs["config_hash"], runs[metric], strict=False))
    results: dict[str, dict[int, float]] = {}
    for key, job_config in composed.items():
        cfg = task_config(job_config)
        for seed in range(int(runs["seed"].max()) + 1):
            cfg.seed = seed
            digest = config_hash(cfg)
            if digest in by_hash:
                results.setdefault(key, {})[seed] = float(by_hash[digest])
    return results
