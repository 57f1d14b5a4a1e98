"""Every test that starts a local Ray, in one module: pytest-xdist (`--dist loadscope`) runs a
module on one worker, so two Ray clusters never start at once on a 2-core machine."""

from __future__ import annotations

import importlib.util

import pytest
from conftest import TINY, run_cli
from test_decide_sweeper import ONE_LOOK, TIMEOUT, check_decisions
from test_scale import assert_nothing_lost, parallel_jobs_of_one_config, sweep_of

HAS_RAY = all(importlib.util.find_spec(m) for m in ("ray", "hydra_plugins.hydra_ray_launcher"))
pytestmark = pytest.mark.skipif(
    not HAS_RAY, reason="Ray launcher not installed: pip install -e '.[scale]'"
)
RAY = [
    "hydra/launcher=ray",
    "hydra.launcher.ray.init.address=local",  # two jobs at once
    "+hydra.launcher.ray.init.num_cpus=2",
    "+hydra.launcher.ray.init.include_dashboard=false",
]
ONE_THREAD = "train.intra_op_threads=1"  # per job: two jobs share the two cores
QUIET = {"RAY_USAGE_STATS_ENABLED": "0"}


def test_ray_multirun_logs_to_the_same_server(server, tmp_path):
    """2 jobs on a new local Ray (2 CPUs, whatever cluster `ray start` left): the launching
    process sets no environment variable, the parent id reaches the jobs through
    hydra.job.env_set (as it reaches the workers of a cluster, which inherit nothing)."""
    out = run_cli(
        "-m",
        *RAY,
        "model.depth=1,2",
        *TINY,
        ONE_THREAD,
        f"tracking.uri={server}",
        "tracking.experiment=ray",
        cwd=tmp_path,
        env=QUIET,
        timeout=400,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    parent, children = sweep_of(server, "ray")
    assert parent["status"] == "FINISHED"
    assert len(children) == 2 and (children["status"] == "FINISHED").all()
    assert (children["tags.mlflow.parentRunId"] == parent["run_id"]).all()
    assert parent["tags.pid"] not in set(children["tags.pid"])
    assert_nothing_lost(server, children, epochs=1)


def test_parallel_ray_jobs_of_one_config_train_it_once(tmp_path, store):
    parallel_jobs_of_one_config(tmp_path, store, RAY, env=QUIET)


@pytest.mark.slow
def test_decide_with_a_local_ray(tmp_path, store):
    """Jobs in Ray workers: the sweeper reads their results from the store, not from them."""
    out = run_cli(
        *ONE_LOOK,
        *RAY,
        ONE_THREAD,
        f"tracking.uri={store}",
        cwd=tmp_path,
        env=QUIET,
        timeout=TIMEOUT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    check_decisions(store)
