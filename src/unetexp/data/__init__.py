"""Datasets as numpy arrays: the bundled set, loaders, the split, synthetic shapes, the user's
folders and the Oxford-IIIT Pet builder. `open_dataset` is what a run calls."""


def open_dataset(data_cfg):
    """The dataset the config names: the bundled set for data=pets_real; a folder pair
    converted on first use (then cached) for data=folder; for data=pets, the study's file,
    built (its archives downloaded unless data.download=false) when it is missing."""
    from unetexp.data.load import load_dataset

    if data_cfg.name == "pets_real":
        from unetexp.data.pets_real import load_pets_real

        return load_pets_real()
    if data_cfg.name == "folder":
        from unetexp.data.folder import open_folder

        return open_folder(data_cfg)
    if data_cfg.name == "pets":
        from unetexp.data.study_file import ensure_study_file

        ensure_study_file(data_cfg)
    return load_dataset(data_cfg)
