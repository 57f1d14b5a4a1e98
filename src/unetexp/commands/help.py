"""`python -m unetexp --help`, answered without Hydra's group listing.

Hydra's own help deep-copies every stored config once per group (seconds, with the sweeps
registered); this one lists the groups from the folders and composes the config once.
`--hydra-help` stays Hydra's.
"""

from __future__ import annotations

from omegaconf import OmegaConf

from unetexp.config.paths import conf_dir, sweeps_dir

HEADER = """unetexp: train any U-Net of the study and log it to MLflow.

Usage: python -m unetexp [-m] [group=option | key=value ...]
       unetexp {export,compare,report,data,predict,status} --help
  python -m unetexp -m model.depth=1,2,3,4,5        # table 1 of the study, 5 runs
  python -m unetexp -m +sweep=depth seed=0,1,2      # the same, over 3 seeds
  python -m unetexp -m +search=final                # Optuna search, pruned (docs/search.md)
  python -m unetexp data=synthetic train.epochs=2   # offline demo
"""
FOOTER = """Runs go to MLflow: <project>/mlruns/mlflow.db unless MLFLOW_TRACKING_URI or
tracking.uri says otherwise. See them with, from the project folder:
  mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db
Hydra's own options: --hydra-help"""


def groups() -> dict[str, list[str]]:
    """Config groups and their options: conf/ folders, plus the sweeps and their rows."""
    conf = conf_dir()
    found = {}
    for folder in sorted(p for p in conf.rglob("*") if p.is_dir()):
        options = sorted((f.stem for f in folder.glob("*.yaml")), key=lambda s: (len(s), s))
        if options:
            found[str(folder.relative_to(conf))] = options
    sweeps = sorted(p.stem for p in sweeps_dir().glob("*.yaml") if p.stem != "rows")
    found["sweep (append: +sweep=NAME)"] = sweeps
    found["row (append: +row=NAME)"] = list(OmegaConf.load(sweeps_dir() / "rows.yaml"))
    found["search (append: +search=NAME)"] = sorted(
        p.stem for p in (sweeps_dir() / "search").glob("*.yaml")
    )
    return found


def print_help(overrides: list[str]) -> None:
    from unetexp.config.compose import compose

    cfg = compose(overrides)
    listing = "\n".join(f"{group}: {', '.join(options)}" for group, options in groups().items())
    print(
        f"{HEADER}\n== Configuration groups ==\nCompose your configuration from those groups "
        f"(group=option)\n\n{listing}\n\n== Config ==\nOverride anything in the config "
        f"(foo.bar=value)\n\n{OmegaConf.to_yaml(cfg)}\n{FOOTER}"
    )
