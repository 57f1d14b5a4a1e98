"""data=folder: a folder of images and a folder of masks made by the test from the real
photographs of ../shared/data/pets-sample (JPEG at their own sizes, trimaps turned into masks;
generated pictures where that folder is absent), every bad case skipped and listed (or, with
data.strict=true, stopping the run in one line), the cache, data.size, and
`unetexp data prepare --layout folder`."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from conftest import PROJECT, heavy_imports, make_cfg, run_cli
from omegaconf import OmegaConf
from PIL import Image

from unetexp.config.jobs import check_command_line
from unetexp.config.schema import DataConfig
from unetexp.data import open_dataset
from unetexp.errors import ConfigError, DataError
from unetexp.tracking.datasets import DIGEST_CHARS, dataset_name

SAMPLE = PROJECT.parent / "shared" / "data" / "pets-sample"


def sample_pairs(n: int) -> list[tuple[str, bytes, np.ndarray]]:
    """(stem, JPEG bytes, trimap 1/2/3 at the image's size): the real sample's first n pairs,
    or generated pictures of varied sizes where ../shared is absent."""
    if (SAMPLE / "images").is_dir():
        stems = sorted(p.stem for p in (SAMPLE / "images").glob("*.jpg"))[:n]
        return [
            (
                s,
                (SAMPLE / "images" / f"{s}.jpg").read_bytes(),
                np.asarray(Image.open(SAMPLE / "annotations" / "trimaps" / f"{s}.png")),
            )
            for s in stems
        ]
    rng, pairs = np.random.default_rng(0), []
    for i in range(n):
        h, w = 40 + 7 * i, 56 + 5 * i
        trimap = np.full((h, w), 2, np.uint8)
        trimap[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 1
        picture = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(picture).save(buffer, "JPEG")
        pairs.append((f"pet_{i}", buffer.getvalue(), trimap))
    return pairs


def png(values: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    picture = Image.fromarray(values)
    (picture.convert(mode) if mode else picture).save(buffer, "PNG")
    return buffer.getvalue()


def good_folder(root, n: int = 6):
    """n usable pairs: masks in {0, 255}, two of them in {0, 1}; plus files to ignore."""
    images, masks = root / "images", root / "masks"
    images.mkdir(parents=True)
    masks.mkdir()
    for i, (stem, jpeg, trimap) in enumerate(sample_pairs(n)):
        (images / f"{stem}.jpg").write_bytes(jpeg)
        pet = (trimap == 1).astype(np.uint8)
        (masks / f"{stem}.png").write_bytes(png(pet if i < 2 else pet * 255))
    for folder in (images, masks):
        (folder / ".DS_Store").write_bytes(b"\0\1")
        (folder / "notes.txt").write_text("not a picture")
    return images, masks


def _bad(name: str, images, masks, jpeg: bytes, trimap: np.ndarray) -> str:
    """Add one bad case to the folders; return its file name and reason as the run lists it."""
    pet = (trimap == 1).astype(np.uint8) * 255
    if name == "no mask":
        (images / "lonely.jpg").write_bytes(jpeg)
        return "lonely.jpg: image without a mask"
    if name == "no image":
        (masks / "stray.png").write_bytes(png(pet))
        return "stray.png: mask without an image"
    if name == "unreadable image":
        (images / "cut.jpg").write_bytes(jpeg[:200])
        (masks / "cut.png").write_bytes(png(pet))
        return "cut.jpg: image does not decode"
    if name == "unreadable mask":
        (images / "junk.jpg").write_bytes(jpeg)
        (masks / "junk.png").write_bytes(b"not a png at all")
        return "junk.jpg: mask does not decode"
    if name == "trimap values":
        (images / "tri.jpg").write_bytes(jpeg)
        (masks / "tri.png").write_bytes(png(trimap))
        return "tri.jpg: mask values [1, 2, 3] are not {0, 1} or {0, 255}"
    if name == "other size":
        (images / "half.jpg").write_bytes(jpeg)
        h, w = trimap.shape
        (masks / "half.png").write_bytes(png(pet[: h // 2, : w // 2]))
        return f"half.jpg: mask is {w // 2}x{h // 2} but the image is {w}x{h}"
    if name == "colour mask":
        (images / "rgb.jpg").write_bytes(jpeg)
        colour = np.stack([pet, np.zeros_like(pet), pet], axis=-1)
        (masks / "rgb.png").write_bytes(png(colour))
        return "rgb.jpg: mask is in colour (RGB): it must have one value per pixel"
    assert name == "two images of one stem"
    (images / "twin.jpg").write_bytes(jpeg)
    (images / "twin.png").write_bytes(png(np.asarray(Image.open(io.BytesIO(jpeg)))))
    (masks / "twin.png").write_bytes(png(pet))
    return "twin: several files: twin.jpg, twin.png"


BAD = [
    "no mask",
    "no image",
    "unreadable image",
    "unreadable mask",
    "trimap values",
    "other size",
    "colour mask",
    "two images of one stem",
]


def folder_cfg(images, masks, root, **kwargs):
    return OmegaConf.structured(
        DataConfig(name="folder", images=str(images), masks=str(masks), root=str(root), **kwargs)
    )


@pytest.mark.parametrize("case", BAD)
def test_a_bad_pair_is_skipped_and_listed_or_stops_a_strict_run(case, tmp_path, capsys):
    images, masks = good_folder(tmp_path, n=4)
    _, jpeg, trimap = sample_pairs(5)[4]
    listed = _bad(case, images, masks, jpeg, trimap)
    name, reason = listed.split(": ", 1)
    cfg = folder_cfg(images, masks, tmp_path / "root", size=32)
    dataset = open_dataset(cfg)
    assert dataset.images.shape == (4, 32, 32, 3) and dataset.masks.shape == (4, 32, 32, 1)
    assert dataset.counts["skipped"] == 1
    err = capsys.readouterr().err
    assert "wrote " in err and "4 pairs of 32x32" in err and "skipped 1:" in err
    (sidecar,) = (tmp_path / "root" / "folders").glob("*.json")
    (skip,) = json.loads(sidecar.read_text())["skipped"]
    assert skip["name"] == name and skip["reason"].startswith(reason)
    assert name in err
    cfg.strict = True
    with pytest.raises(DataError) as stopped:
        open_dataset(cfg)
    message = str(stopped.value)
    assert "\n" not in message and reason in message and "data.strict=true" in message
    assert message.startswith(str(images if "mask without" not in reason else masks))


def test_every_bad_case_at_once_leaves_the_usable_pairs_in_stem_order(tmp_path, capsys):
    images, masks = good_folder(tmp_path, n=6)
    _, jpeg, trimap = sample_pairs(7)[6]
    listed = sorted(_bad(case, images, masks, jpeg, trimap) for case in BAD)
    dataset = open_dataset(folder_cfg(images, masks, tmp_path / "root"))
    stems = [stem for stem, _, _ in sample_pairs(6)]
    (npz,) = (tmp_path / "root" / "folders").glob("*.npz")
    with np.load(npz) as data:
        assert data["names"].tolist() == sorted(stems)
    assert dataset.images.shape == (6, 64, 64, 3) and dataset.source == f"{images} + {masks}"
    assert dataset.counts == {  # 6 good + lonely, cut, junk, tri, half, rgb, twin.jpg, twin.png
        "images_found": 14,
        "masks_found": 13,  # 6 good + stray, cut, junk, tri, half, rgb, twin
        "skipped": 8,
        "no_mask": 1,
        "no_image": 1,
        "unusable": 6,
    }
    sidecar = json.loads(npz.with_suffix(".json").read_text())
    found = sorted(f"{s['name']}: {s['reason']}" for s in sidecar["skipped"])
    assert [f[: len(w)] for f, w in zip(found, listed, strict=True)] == listed
    err = capsys.readouterr().err
    assert "image without a mask: 1 (lonely.jpg)" in err
    assert "mask without an image: 1 (stray.png)" in err


def test_masks_in_any_accepted_form_give_the_same_mask(tmp_path):
    """{0,1}, {0,255}, a 1-bit PNG, a palette PNG, and the trimap with data.mask_values=[1]."""
    (stem, jpeg, trimap), *_ = sample_pairs(4)
    pet = (trimap == 1).astype(np.uint8)
    forms = {
        "01": png(pet),
        "0255": png(pet * 255),
        "bits": png(pet * 255, "1"),
        "palette": png(pet, "P"),
    }
    results = {}
    for form, mask in [*forms.items(), ("trimap", png(trimap))]:
        images, masks = tmp_path / form / "images", tmp_path / form / "masks"
        images.mkdir(parents=True)
        masks.mkdir()
        for i in range(4):  # four copies: a split needs 4 pairs
            (images / f"{stem}_{i}.jpg").write_bytes(jpeg)
            (masks / f"{stem}_{i}.png").write_bytes(mask)
        values = [1] if form == "trimap" else None
        cfg = folder_cfg(images, masks, tmp_path / "root", mask_values=values)
        results[form] = open_dataset(cfg).masks
    assert 0 < results["01"].mean() < 1
    for form, masks in results.items():
        np.testing.assert_array_equal(masks, results["01"], err_msg=form)


def test_the_second_run_reads_the_cache_and_a_changed_file_converts_again(tmp_path, capsys):
    images, masks = good_folder(tmp_path, n=5)
    cfg = folder_cfg(images, masks, tmp_path / "root")
    first = open_dataset(cfg)
    assert "converting 5 pairs" in capsys.readouterr().err
    (npz,) = (tmp_path / "root" / "folders").glob("*.npz")
    stamp = npz.stat().st_mtime_ns
    second = open_dataset(cfg)
    err = capsys.readouterr().err
    assert "converting" not in err and f"5 pairs from the cache {npz}" in err
    assert npz.stat().st_mtime_ns == stamp and second.sha256 == first.sha256
    np.testing.assert_array_equal(second.images, first.images)
    changed = sorted(masks.glob("*.png"))[0]
    changed.write_bytes(png(np.zeros(Image.open(changed).size[::-1], np.uint8)))
    third = open_dataset(cfg)
    assert "converting 5 pairs" in capsys.readouterr().err and third.sha256 != first.sha256
    assert len(list((tmp_path / "root" / "folders").glob("*.npz"))) == 2
    cfg.size = 32  # another size is another conversion too
    assert open_dataset(cfg).sha256 not in (first.sha256, third.sha256)


def test_size_128_gives_128x128_arrays(tmp_path):
    images, masks = good_folder(tmp_path, n=4)
    dataset = open_dataset(folder_cfg(images, masks, tmp_path / "root", size=128))
    assert dataset.images.shape == (4, 128, 128, 3) and dataset.masks.shape == (4, 128, 128, 1)
    assert set(np.unique(dataset.masks)) == {0.0, 1.0}


def test_missing_empty_or_unusable_folders_stop_in_one_line(tmp_path):
    images, masks = good_folder(tmp_path, n=4)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no pictures")
    root = tmp_path / "root"
    cases = [
        (folder_cfg(tmp_path / "nope", masks, root), f"data.images={tmp_path / 'nope'}: folder"),
        (folder_cfg(images, empty, root), f"data.masks={empty}: no image files in the folder"),
        (folder_cfg(images, sorted(masks.glob("*.png"))[0], root), "png: is not a folder"),
        (folder_cfg(images, images, root), f"{images} + {images}: no usable pair"),
    ]
    for cfg, message in cases:
        with pytest.raises(DataError) as stopped:
            open_dataset(cfg)
        assert message in str(stopped.value) and "\n" not in str(stopped.value)


def test_a_sweep_checks_the_folders_and_the_size_before_the_first_job(tmp_path):
    images, masks = good_folder(tmp_path, n=4)
    base = ["data=folder", f"data.images={images}", f"data.masks={masks}"]
    check_command_line(["-m", *base, "model.depth=1,2,3", "data.size=128"])
    with pytest.raises(ConfigError, match=r"model.depth=6 is too deep for 32x32 images"):
        check_command_line(["-m", *base, "model.depth=1,6", "data.size=32"])
    with pytest.raises(DataError, match=r"^job \(.*data.masks=.*nope: folder not found"):
        check_command_line(["-m", *base[:2], f"data.masks={tmp_path / 'nope'}", "seed=0,1"])
    with pytest.raises(ConfigError, match="data=folder needs data.images=DIR and data.masks=DIR"):
        check_command_line(["data=folder"])
    with pytest.raises(ConfigError, match=r"data.mask_values=\[1, 1\] is invalid"):
        check_command_line([*base, "data.mask_values=[1,1]"])
    assert make_cfg(*base).data.strict is False


def test_the_dataset_is_named_after_the_folder_holding_both(tmp_path):
    images, masks = good_folder(tmp_path / "mydata", n=1)
    assert dataset_name(f"{images} + {masks}") == "mydata"
    trimaps = tmp_path / "mydata" / "annotations" / "trimaps"
    trimaps.mkdir(parents=True)
    assert dataset_name(f"{images} + {trimaps}") == "mydata"
    assert dataset_name(f"{images} + {images}") == "images+images"


def test_prepare_layout_folder_writes_the_npz_a_run_caches(tmp_path):
    images, masks = good_folder(tmp_path, n=5)
    _bad("no mask", images, masks, *sample_pairs(6)[5][1:])
    out = tmp_path / "mine.npz"
    done = run_cli(
        "data",
        "prepare",
        "--layout",
        "folder",
        "--images",
        str(images),
        "--masks",
        str(masks),
        "--size",
        "32",
        "--out",
        str(out),
        "--preview",
        str(tmp_path / "preview.png"),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}: 5 pairs of 32x32 from 6 images and 5 masks" in done.stdout
    assert "image without a mask: 1 (lonely.jpg)" in done.stdout
    assert f"train on it: python -m unetexp data=npz data.path={out}" in done.stdout
    assert Image.open(tmp_path / "preview.png").size[0] > 0
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["format"] == "unetexp-folder/1" and sidecar["counts"]["written"] == 5
    cached = open_dataset(folder_cfg(images, masks, tmp_path / "root", size=32))
    with np.load(out) as data:
        np.testing.assert_array_equal(data["images"], np.rint(cached.images * 255))
        assert sidecar["key"] == cached.sha256
    wrong = run_cli("data", "prepare", "--layout", "folder", "--images", str(images), cwd=tmp_path)
    assert wrong.returncode == 2 and wrong.stderr.strip() == (
        "unetexp: error: --layout folder needs --images DIR, --masks DIR and --out FILE.npz"
    )
    args = ["data", "prepare", "--layout", "folder", "--images", str(images), "--masks", str(masks)]
    mixed = run_cli(*args, "--out", str(out), "--source", str(images), cwd=tmp_path)
    assert mixed.returncode == 2
    assert mixed.stderr.strip() == "unetexp: error: --source is for --layout pets"
    assert heavy_imports(*args, "--out", str(tmp_path / "again.npz"), cwd=tmp_path) == []


@pytest.mark.slow
def test_a_run_trains_on_the_usable_pairs_lists_the_others_and_records_them(tmp_path, store):
    """`python -m unetexp data=folder ...` on real photographs with every bad case: 1 epoch, the
    skips listed, the counts and the dataset in MLflow; the same command again reads the cache
    and reuses the run."""
    import mlflow

    images, masks = good_folder(tmp_path / "pets", n=12)
    _, jpeg, trimap = sample_pairs(13)[12]
    for case in BAD:
        _bad(case, images, masks, jpeg, trimap)
    command = [
        "data=folder",
        f"data.images={images}",
        f"data.masks={masks}",
        "data.size=32",
        "model.depth=2",
        "train.epochs=1",
        f"tracking.uri={store}",
    ]
    env = {"UNETEXP_DATA_DIR": str(tmp_path / "root")}
    first = run_cli(*command, cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "wrote " in first.stderr and "12 pairs of 32x32" in first.stderr
    for line in ("skipped 8:", "image without a mask: 1 (lonely.jpg)", "cut.jpg: image does not"):
        assert line in first.stderr
    mlflow.set_tracking_uri(store)
    (run,) = mlflow.search_runs(experiment_names=["unetexp"], output_format="list")
    tags = run.data.tags
    assert (tags["data_count"], tags["data_skipped"], tags["data_unusable"]) == ("12", "8", "6")
    assert (tags["data_no_mask"], tags["data_no_image"], tags["data_images_found"]) == (
        "1",
        "1",
        "20",  # 12 good, 8 bad (twin.jpg and twin.png)
    )
    assert tags["data_source"] == f"{images} + {masks}"
    (found,) = run.inputs.dataset_inputs
    assert (
        found.dataset.name == "pets" and found.dataset.digest == tags["data_sha256"][:DIGEST_CHARS]
    )
    assert (run.data.params["data.n_train"], run.data.params["data.n_test"]) == ("9", "3")
    again = run_cli(*command, cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "converting" not in again.stderr and "12 pairs from the cache" in again.stderr
    assert "skipped s0 d2" in again.stdout + again.stderr  # the FINISHED run is reused
    assert len(mlflow.search_runs(experiment_names=["unetexp"], output_format="list")) == 1


def test_a_missing_folder_stops_the_command_in_one_line(tmp_path, store):
    images, _ = good_folder(tmp_path, n=4)
    out = run_cli(
        "data=folder",
        f"data.images={images}",
        f"data.masks={tmp_path / 'nope'}",
        f"tracking.uri={store}",
        cwd=tmp_path,
    )
    assert out.returncode == 2 and out.stderr.strip() == (
        f"unetexp: error: data.masks={tmp_path / 'nope'}: folder not found"
    )
    assert not (tmp_path / "mlruns").exists()


REAL = PROJECT.parent / "shared" / "data" / "pets-real"


@pytest.mark.skipif(not (REAL / "images").is_dir(), reason=f"no {REAL} (real photographs)")
def test_the_real_folder_with_its_trimaps_gives_exactly_the_bundled_set(tmp_path):
    """data=folder on the 714 pairs behind the bundled set (official trimaps, object value 1):
    the same arrays, in the same order, as the bundled pets_real_64.npz."""
    from unetexp.data.pets_real import load_pets_real

    images, masks = REAL / "images", REAL / "annotations" / "trimaps"
    folder = open_dataset(folder_cfg(images, masks, tmp_path / "root", mask_values=[1]))
    bundled = load_pets_real()
    np.testing.assert_array_equal(folder.images, bundled.images)
    np.testing.assert_array_equal(folder.masks, bundled.masks)
    assert folder.counts["skipped"] == 0 and folder.sha256 != bundled.sha256
