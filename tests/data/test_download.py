"""`--download` against a local HTTP pets_server on 127.0.0.1 serving the fixture archives: a broken
transfer resumes with a Range request, a wrong checksum is refused, offline fails in one line.
No test needs the internet."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import WRITTEN, run_cli

from unetexp.data import download
from unetexp.errors import DataError


def sha_args(sha256: dict) -> list[str]:
    return [a for name, digest in sha256.items() for a in ("--sha256", f"{name}={digest}")]


def test_download_resumes_a_broken_transfer_and_builds(pets_server, archives, tmp_path):
    pets_server["cut"] = {"images.tar.gz": 1}  # the first images transfer stops half-way
    out = tmp_path / "pets.npz"
    result = run_cli(
        "data",
        "prepare",
        "--download",
        "--url-base",
        pets_server["url"],
        *sha_args(archives["sha256"]),
        "--archive-dir",
        str(tmp_path / "dl"),
        "--size",
        "32",
        "--fraction",
        "1",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "images.tar.gz: connection closed early, resuming" in result.stderr
    half = len(archives["files"]["images.tar.gz"]) // 2
    assert pets_server["requests"] == [
        ("images.tar.gz", None),
        ("images.tar.gz", f"bytes={half}-"),
        ("annotations.tar.gz", None),
    ]
    for name, data in archives["files"].items():
        assert (tmp_path / "dl" / name).read_bytes() == data
        assert not (tmp_path / "dl" / f"{name}.part").exists()
    with np.load(out) as built:
        assert len(built["names"]) == 69 and set(WRITTEN) <= set(built["names"].tolist())


def test_an_earlier_partial_download_is_continued(pets_server, archives, tmp_path):
    data = archives["files"]["annotations.tar.gz"]
    (tmp_path / "annotations.tar.gz.part").write_bytes(data[:1000])
    path = download.fetch("annotations.tar.gz", tmp_path, pets_server["url"], archives["sha256"])
    assert path.read_bytes() == data and pets_server["requests"] == [
        ("annotations.tar.gz", "bytes=1000-")
    ]
    # a verified copy is reused, not fetched again
    assert (
        download.fetch("annotations.tar.gz", tmp_path, pets_server["url"], archives["sha256"])
        == path
    )
    assert len(pets_server["requests"]) == 1


def test_a_wrong_checksum_is_refused(pets_server, archives, tmp_path):
    wrong = dict(archives["sha256"], **{"images.tar.gz": "0" * 64})
    out = run_cli(
        "data",
        "prepare",
        "--download",
        "--url-base",
        pets_server["url"],
        *sha_args(wrong),
        "--archive-dir",
        str(tmp_path),
        "--out",
        str(tmp_path / "x.npz"),
        cwd=tmp_path,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    error = [line for line in out.stderr.splitlines() if line.startswith("unetexp: error:")]
    assert len(error) == 1 and f"{pets_server['url']}images.tar.gz: sha256 " in error[0]
    assert "does not match the known 0000" in error[0] and "the download was deleted" in error[0]
    assert not list(tmp_path.glob("images.tar.gz*")) and not (tmp_path / "x.npz").exists()


def test_a_mirror_must_serve_the_official_files(pets_server, tmp_path):
    """Without --sha256 the official sizes and checksums apply, whatever the URL."""
    with pytest.raises(DataError) as info:
        download.fetch("annotations.tar.gz", tmp_path, pets_server["url"])
    assert "has 19173078" in str(info.value) and not list(tmp_path.iterdir())


def test_offline_fails_in_one_line(tmp_path):
    out = run_cli(
        "data",
        "prepare",
        "--download",
        "--archive-dir",
        str(tmp_path),
        cwd=tmp_path,
        env={download.URL_ENV: "http://127.0.0.1:9/"},
    )  # nothing listens on port 9
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert lines[0].startswith("unetexp: error: cannot download http://127.0.0.1:9/images.tar.gz")
    assert "offline?" in lines[0] and "--source DIR" in lines[0]


def test_missing_file_on_the_server(pets_server, tmp_path):
    with pytest.raises(DataError, match=r"nothing.tar.gz: HTTP 404"):
        download.fetch("nothing.tar.gz", tmp_path, pets_server["url"], {"nothing.tar.gz": "0" * 64})
