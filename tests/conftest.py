"""Shared fixtures and helpers: a throwaway MLflow store, an `mlflow server` on loopback, the CLI
as a subprocess, composed configs, small data files, and a small Oxford-IIIT Pet look-alike
served over HTTP.

The pets look-alike: A small Oxford-IIIT Pet look-alike in the official layout, made in the test.

images/NAME.jpg and annotations/trimaps/NAME.png (1 pet, 2 background, 3 border), with the
official set's troubles: a truncated JPEG, a grayscale, a CMYK and an RGBA image (the last one PNG
bytes under a .jpg name, as in the real archive), an image without trimap, a trimap without image,
a stray .mat file and macOS ._ companions.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unetexp.tracking.new_store import CACHE_ENV

PROJECT = Path(__file__).resolve().parents[1]
# tiny, fast training settings for end-to-end runs
TINY = ["data=synthetic", "data.count=24", "data.size=16", "train.epochs=1", "train.batch_size=8"]


@pytest.fixture(autouse=True, scope="session")
def store_cache(tmp_path_factory):
    """One cache of MLflow's empty store for the session (tracking/new_store.py), in a
    temporary folder, not the user's: subprocesses inherit it."""
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("unetexp-cache"))


@pytest.fixture(autouse=True)
def no_inherited_log_level(monkeypatch):
    """Every test's subprocesses start with the user's TF_CPP_MIN_LOG_LEVEL (none), not one an
    earlier test left in this worker: Keras imported in-process (MLflow's pyfunc) imports JAX,
    which sets it to 1, and TensorFlow's cuInit error line then reached the one-line errors."""
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)


@pytest.fixture(autouse=True)
def offline_pets(monkeypatch):
    """No test goes online: the first run of data=pets downloads from a port where nothing
    listens, unless a test serves the archives itself."""
    monkeypatch.setenv("UNETEXP_PETS_URL", "http://127.0.0.1:9/")


@pytest.fixture
def store(tmp_path) -> str:
    """A fresh SQLite tracking URI in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"


def run_cli(*args: str, cwd: Path, env: dict | None = None, timeout: int = 300, preexec_fn=None):
    """`python -m unetexp ARGS` from `cwd`, as a user types it; returns the CompletedProcess."""
    full_env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "unetexp", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=preexec_fn,
    )


def start_cli(
    *args: str, cwd: Path, stdout=subprocess.DEVNULL, env: dict | None = None
) -> subprocess.Popen:
    """`python -m unetexp ARGS` started from `cwd` (stderr piped, or with stdout when that is
    piped), for a test to watch or kill; `env` is added to this process's environment."""
    full_env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    full_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "unetexp", *args],
        cwd=cwd,
        env=full_env,
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout == subprocess.PIPE else subprocess.PIPE,
        text=True,
    )


def run_with_stdout_closed(*args: str, cwd: Path, buffered: bool = False, timeout: int = 300):
    """`python -m unetexp ARGS | head -0`, deterministically: stdout is a pipe whose reader is gone
    before the command writes anything. Unbuffered (as with PYTHONUNBUFFERED) the failing write
    happens inside whichever library prints; buffered, at the last flush. (exit code, stderr)"""
    env = {
        k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "PYTHONUNBUFFERED")
    }
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [sys.executable, "-m", "unetexp", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, stderr


def heavy_imports(*args: str, cwd: Path) -> list[str]:
    """Run the CLI in-process with ARGS; which of TensorFlow and matplotlib it imported."""
    code = (
        "import sys; sys.argv = ['unetexp', *sys.argv[1:]]\n"
        "from unetexp.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "import json; print('IMPORTED', json.dumps(sorted(m for m in ('tensorflow', 'matplotlib') "
        "if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    assert last.startswith("IMPORTED "), out.stderr
    return json.loads(last[len("IMPORTED ") :])


def search_runs(uri: str, experiment: str = "unetexp"):
    """Every run of the experiment as a DataFrame (mlflow.search_runs)."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(experiment_names=[experiment])


def client_runs(uri: str, experiment: str = "unetexp") -> list:
    """Every run of the experiment as MLflow Run objects (none when it does not exist)."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id]) if found else []


def write_npz(path: Path, n: int = 8, size: int = 16, **overrides) -> Path:
    """A small valid npz dataset; keyword arguments replace or add arrays."""
    rng = np.random.default_rng(0)
    arrays = {
        "images": rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
        "masks": rng.integers(0, 2, (n, size, size), dtype=np.uint8),
    }
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path


def tiny_cfg(**train):
    """The schema's config on 24 synthetic 16x16 images, a small model, `train` keys set."""
    from omegaconf import OmegaConf

    from unetexp.config.schema import Config
    from unetexp.config.validation import validate

    cfg = OmegaConf.structured(Config())
    cfg.data.name, cfg.data.count, cfg.data.size, cfg.data.val_fraction = "synthetic", 24, 16, 0.2
    cfg.model.convs, cfg.model.bottleneck = 1, 32
    for key, value in train.items():
        OmegaConf.update(cfg, key, value)
    validate(cfg)
    return cfg


def tiny_splits(cfg):
    """`cfg`'s data, split as a job splits it."""
    from unetexp.data.load import load_dataset
    from unetexp.data.split import split

    return split(load_dataset(cfg.data), cfg.data.test_fraction, cfg.data.val_fraction, cfg.seed)


def make_cfg(*overrides: str):
    """The app's config with Hydra overrides, as `python -m unetexp OVERRIDES` composes it."""
    from unetexp.config.compose import compose

    return compose(list(overrides))


# ---------------------------------------------------------------- a tracking server


def wait_for(condition, what: str, timeout: float = 300):
    """`condition()`'s first true value, polled (a service's or a job's state, never a timer
    standing in for one); fails after `timeout` seconds naming `what`."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.2)
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def mlflow_server(tmp: Path, backend_store_uri: str, port: int | None = None):
    """`mlflow server` on 127.0.0.1 and `port` (a free one by default) over
    `backend_store_uri`, artifacts in `tmp`, as docs/scaling.md starts it; yields its URL and
    stops it after (gracefully, as a restart would)."""
    port = port or free_port()
    mlflow = Path(sys.executable).parent / "mlflow"
    proc = subprocess.Popen(
        [
            str(mlflow),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            backend_store_uri,
            "--artifacts-destination",
            str(tmp / "artifacts"),
        ],
        cwd=tmp,
        stdout=open(tmp / "server.log", "a"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # no job workers
        start_new_session=True,
    )  # its own process group: its children end with it
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL) if proc.poll() is None else None
                pytest.fail(
                    "mlflow server did not start:\n" + (tmp / "server.log").read_text()[-3000:]
                )
            time.sleep(0.5)
    try:
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # what SIGTERM left of the group
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`mlflow server` on a SQLite backend store."""
    tmp = tmp_path_factory.mktemp("server")
    with mlflow_server(tmp, f"sqlite:///{tmp / 'server.db'}") as url:
        yield url


def unavailable(reason: str, what: str) -> None:
    """A real service a test needs cannot start here: CI (CI=true, .ci/run) must run `what`,
    so it fails there; elsewhere the test skips with the one-line reason."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the {what} tests: {reason}")
    pytest.skip(reason)


PG_BIN = Path("/usr/lib/postgresql")


def _pg_tool(name: str) -> Path | None:
    found = sorted(PG_BIN.glob(f"*/bin/{name}"))
    return found[-1] if found else None


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL of its own (Debian's `postgresql` package): a cluster in a temporary folder,
    started as the `postgres` user on loopback and a free port, stopped after the module;
    yields the `postgresql://` URI of an empty database. CI (.ci/run) installs the package and
    must run these tests; elsewhere they skip when it is missing or this is not root."""
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    reason = None
    if initdb is None or pg_ctl is None:
        reason = "no PostgreSQL here (Debian: apt-get install postgresql)"
    elif os.geteuid() != 0:
        reason = "the test PostgreSQL starts as root (it runs as the postgres user)"
    if reason:
        unavailable(reason, "PostgreSQL")
    # not under pytest's temporary folders: they are root's alone (0700), and the server runs
    # as postgres
    folder = Path(tempfile.mkdtemp(prefix="unetexp-pg-"))
    data = folder / "data"
    subprocess.run(["chown", "postgres", str(folder)], check=True)
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_postgres, str(initdb), "-D", str(data), "--auth=trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}"
    control = [*as_postgres, str(pg_ctl), "-D", str(data), "-w", "-m", "fast"]
    subprocess.run(
        [*control, "-o", options, "-l", str(folder / "log"), "start"],
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [*as_postgres, str(_pg_tool("createdb")), "-h", "127.0.0.1", "-p", str(port),
             "mlflow"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        yield Postgres(f"postgresql://postgres@127.0.0.1:{port}/mlflow", control, folder / "log")
    finally:
        subprocess.run([*control, "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Postgres:
    """The test cluster: its database's URI, and `pg_ctl` on it (as the postgres user)."""

    uri: str
    control: list[str]
    log: Path

    def restart(self) -> None:
        """Stop it (fast: open sessions are ended) and start it again, as an admin would (its
        output to its log: a server holding our pipe open would keep this call waiting)."""
        subprocess.run(
            [*self.control, "-l", str(self.log), "restart"],
            check=True,
            capture_output=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def pg_server(postgres, tmp_path_factory):
    """`mlflow server` on the PostgreSQL backend store, as a lab's head node runs it."""
    with mlflow_server(tmp_path_factory.mktemp("pg-server"), postgres.uri) as url:
        yield url


# ---------------------------------------------------------------- Oxford-IIIT Pet look-alike

GOOD = {  # name: (width, height)
    "Abyssinian_1": (120, 90),
    "Abyssinian_2": (90, 120),
    "Bengal_1": (100, 100),
    "beagle_1": (110, 80),
    "beagle_2": (80, 110),
    "pug_1": (96, 72),
}
CONVERTED = {"Birman_1": "L", "Egyptian_Mau_1": "CMYK", "Egyptian_Mau_2": "RGBA"}
CORRUPT, NO_TRIMAP, NO_IMAGE = "Bengal_2", "boxer_1", "pug_99"
WRITTEN = sorted([*GOOD, *CONVERTED])  # the pairs prepare keeps
SKIPPED = {CORRUPT: "image does not decode", NO_TRIMAP: "no trimap"}


def picture(width: int, height: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A warm ellipse (the pet) on a cool noisy background, and its trimap."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx = rng.uniform(0.4, 0.6) * height, rng.uniform(0.4, 0.6) * width
    ry, rx = rng.uniform(0.2, 0.35) * height, rng.uniform(0.2, 0.35) * width
    r = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
    trimap = np.where(r <= 0.9, 1, np.where(r <= 1.1, 3, 2)).astype(np.uint8)
    image = np.empty((height, width, 3), np.float32)
    image[:] = rng.uniform(20, 120, 3) * np.array([0.5, 1.0, 1.0])
    image[r <= 1.0] = np.array([220, 140, 40]) * rng.uniform(0.8, 1.0)
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), trimap


def _jpeg(array: np.ndarray, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    img = Image.fromarray(array)
    if mode != "RGB":
        img = img.convert(mode)
    if mode == "RGBA":
        img.save(buffer, "PNG")  # the real archive has PNG files named .jpg
    else:
        img.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def make_pets_folder(root: Path, extra: int = 0, extra_size: tuple[int, int] = (40, 32)) -> Path:
    """The official layout under root; `extra` more good pairs (alternating cat and dog breeds)."""
    images, trimaps = root / "images", root / "annotations" / "trimaps"
    images.mkdir(parents=True)
    trimaps.mkdir(parents=True)
    sizes = dict(GOOD)
    sizes.update({name: (64, 48) for name in [*CONVERTED, CORRUPT, NO_TRIMAP, NO_IMAGE]})
    breeds = ["Persian", "keeshond", "Sphynx", "samoyed"]
    sizes.update({f"{breeds[i % 4]}_{100 + i}": extra_size for i in range(extra)})
    for seed, (name, (width, height)) in enumerate(sorted(sizes.items())):
        image, trimap = picture(width, height, seed)
        data = _jpeg(image, CONVERTED.get(name, "RGB"))
        if name == CORRUPT:
            data = data[: len(data) // 3]  # truncated transfer
        if name != NO_IMAGE:
            (images / f"{name}.jpg").write_bytes(data)
        if name != NO_TRIMAP:
            (trimaps / f"{name}.png").write_bytes(_png(trimap))
    (images / "Abyssinian_100.mat").write_bytes(b"MATLAB 5.0")  # strays of the real archive
    (trimaps / "._Abyssinian_1.png").write_bytes(b"\x00\x05\x16\x07 mac resource fork")
    (root / "annotations" / "list.txt").write_text("#Image CLASS-ID SPECIES BREED ID\n")
    return root


def make_pets_archives(folder: Path, dest: Path) -> tuple[Path, Path]:
    """images.tar.gz and annotations.tar.gz of a folder in the official layout (members in
    reverse name order: readers must not rely on the order)."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for archive_name, top in (("images.tar.gz", "images"), ("annotations.tar.gz", "annotations")):
        path = dest / archive_name
        with tarfile.open(path, "w:gz") as tar:
            for file in sorted((folder / top).rglob("*"), reverse=True):
                tar.add(file, arcname=str(file.relative_to(folder)), recursive=False)
        out.append(path)
    return out[0], out[1]


class ArchiveHandler(BaseHTTPRequestHandler):
    """Serves files from a dict, honours Range, and cuts chosen transfers half-way."""

    def __init__(self, state, *args, **kwargs):
        self.state = state
        super().__init__(*args, **kwargs)

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        name = self.path.lstrip("/")
        self.state["requests"].append((name, self.headers.get("Range")))
        if name not in self.state["files"]:
            self.send_error(404, "Not Found")
            return
        data = self.state["files"][name]
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.state["cut"].get(name, 0) > 0:  # announce it all, send half, hang up
            self.state["cut"][name] -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@contextmanager
def serve_files(files: dict[str, bytes]):
    """An HTTP server on 127.0.0.1 serving `files`; yields its state: url, requests, cut."""
    state = {"files": files, "requests": [], "cut": {}}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(ArchiveHandler, state))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{httpd.server_address[1]}/"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """The look-alike's two archives (bytes and sha256), made once per test module."""
    base = tmp_path_factory.mktemp("served")
    folder = make_pets_folder(base / "pets", extra=60)
    images, annotations = make_pets_archives(folder, base / "archives")
    files = {p.name: p.read_bytes() for p in (images, annotations)}
    return {"files": files, "sha256": {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}}


@pytest.fixture
def pets_server(archives):
    """A local HTTP server on 127.0.0.1 serving the look-alike's two archives."""
    with serve_files(archives["files"]) as state:
        yield state
