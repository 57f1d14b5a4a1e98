"""The one line compare and report print when runs were trained unlike the study's tables."""

from __future__ import annotations

import pandas as pd

from unetexp.results.settings import settings_note

STUDY_LIKE = {
    "train.epochs": 10,
    "train.batch_size": 8,
    "train.lr": 0.001,
    "train.optimizer": "adam",
    "data_source": "/data/oxford_pets_64_red.npz",
    "data_count": 738,
}


def test_runs_trained_as_the_study_get_no_note():
    assert settings_note(pd.DataFrame([STUDY_LIKE, STUDY_LIKE])) is None


def test_short_runs_on_other_data_are_said_to_differ_in_one_line():
    runs = pd.DataFrame(
        [{**STUDY_LIKE, "train.epochs": 2, "data_source": "/d/pets_real_64.npz", "data_count": 714}]
        * 2
    )
    assert settings_note(runs) == (
        "note: these runs differ from the study's settings: epochs 2 (study: 10); data "
        "pets_real_64.npz (714 images; study: its 738-image subset); the deltas against the "
        "study compare unlike runs"
    )


def test_synthetic_data_is_named_whole():
    runs = pd.DataFrame([{**STUDY_LIKE, "data_source": "synthetic(count=24, size=16)"}])
    assert "data synthetic(count=24, size=16) (738 images;" in settings_note(runs)


def test_an_aggregated_export_lists_every_value_it_pooled():
    agg = pd.DataFrame([{**STUDY_LIKE, "train.batch_size": 16, "data_count": "738"}])
    assert "batch 16 (study: 8)" in settings_note(agg, "the runs of A")
