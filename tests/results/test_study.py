"""Sweep definitions, the study's reference numbers, and the statistics of its conclusions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import make_cfg
from scipy import stats

from unetexp.config.hashing import config_hash
from unetexp.results.power import holm
from unetexp.results.study import check_conclusions, conclusions, difference_test, reference, tables


def test_each_table_sweep_fixes_its_base_and_varies_its_factor():
    cfg = make_cfg("+sweep=bottleneck")
    assert (cfg.model.depth, cfg.model.convs, cfg.model.upsample, cfg.loss.name) == (
        3,
        2,
        "upsampling",
        "bce",
    )
    assert cfg.tracking.sweep == "bottleneck"
    by_name = {t.name: t for t in tables()}
    assert by_name["depth"].factor == "model.depth" and by_name["depth"].values == [1, 2, 3, 4, 5]
    assert by_name["upsample"].values == ["transpose", "upsampling"]
    assert by_name["loss"].values == ["bce", "dice", "bce_dice"]


def table_hashes(table) -> set[str]:
    return {
        config_hash(make_cfg(f"+sweep={table.name}", f"{table.factor}={v}")) for v in table.values
    }


def test_all_is_the_twelve_distinct_configs_of_tables_1_to_5():
    from unetexp.config.paths import sweeps_dir
    from unetexp.config.schema import OmegaConf

    rows = OmegaConf.load(sweeps_dir() / "rows.yaml")
    all_hashes = {config_hash(make_cfg("+sweep=all", f"+row={name}")) for name in rows}
    union = set().union(*(table_hashes(t) for t in tables()))
    assert len(all_hashes) == 12 and all_hashes == union
    assert sum(len(t.values) for t in tables()) == 16  # the rows the study trained


def test_reference_holds_the_study_numbers():
    ref = reference()
    assert len(ref) == 16
    depth = ref[ref["sweep"] == "depth"].set_index("model.depth")
    assert depth.loc[3, "test_accuracy"] == 0.7825 and depth.loc[1, "n_params"] == 182337
    loss = ref[ref["sweep"] == "loss"].set_index("loss.name")
    assert loss.loc["dice", "test_dice"] == 0.7420
    assert set(conclusions()["sweep"]) == {t.name for t in tables()}


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    assert math.isnan(holm([math.nan, 0.01])[0]) and holm([math.nan, 0.01])[1] == pytest.approx(
        0.01
    )


def runs_frame(values: dict, seeds=(0, 1, 2)) -> pd.DataFrame:
    """Runs of table 1 (depth) with the given accuracies per depth, one per seed."""
    rows = []
    for depth, accuracies in values.items():
        for seed, accuracy in zip(seeds, accuracies, strict=False):
            rows.append(
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
            )
    return pd.DataFrame(rows)


def test_difference_test_pairs_by_seed_else_welch():
    a = pd.DataFrame({"seed": [0, 1, 2], "m": [0.80, 0.82, 0.81]})
    b = pd.DataFrame({"seed": [0, 1, 2], "m": [0.78, 0.81, 0.79]})
    paired = difference_test(a, b, "m")
    assert paired["test"] == "paired t" and paired["p"] == pytest.approx(
        stats.ttest_rel(a["m"], b["m"]).pvalue
    )
    b_other = b.assign(seed=[3, 4, 5])
    welch = difference_test(a, b_other, "m")
    assert welch["test"] == "Welch t" and welch["p"] == pytest.approx(
        stats.ttest_ind(a["m"], b["m"], equal_var=False).pvalue
    )
    assert welch["diff"] == pytest.approx(np.mean(a["m"]) - np.mean(b["m"]))


def test_study_conclusions_hold_only_when_significant_in_the_study_direction():
    runs = runs_frame({3: [0.80, 0.81, 0.82], 4: [0.70, 0.715, 0.72], 1: [0.79, 0.815, 0.80]})
    result = check_conclusions(runs).set_index("comparison")
    main = result.loc["model.depth: 3 vs 4"]
    assert main["main"] and main["test"] == "paired t" and main["holds"]
    assert main["study_diff"] == pytest.approx(0.7825 - 0.7619)
    noise = result.loc["model.depth: 3 vs 1"]
    assert not noise["holds"]
    # Holm within the table: two comparisons covered, the smaller p doubled, the larger kept
    assert main["p"] < noise["p"]
    assert main["p_holm"] == pytest.approx(min(1, 2 * main["p"]))
    assert noise["p_holm"] == pytest.approx(max(main["p_holm"], noise["p"]))
