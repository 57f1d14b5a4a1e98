"""Datasets as numpy arrays: loaders, the split, synthetic shapes, and the Oxford-IIIT Pet
builder. `open_dataset` is what a run calls: it builds the study's file on first use."""


def open_dataset(data_cfg):
    """The dataset the config names; for data=pets, the study's file is built (its archives
    downloaded unless data.download=false) when it is missing."""
    from unetexp.data.load import load_dataset
    from unetexp.data.study_file import ensure_study_file

    if data_cfg.name == "pets":
        ensure_study_file(data_cfg)
    return load_dataset(data_cfg)
