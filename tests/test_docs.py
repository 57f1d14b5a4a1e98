"""The documentation a clone reads: no absolute path of the machine it was written on, no
reference to the study's spec outside this project, no relative link to a missing file or
heading, and no cited repository path that does not exist. Plain text only, no TensorFlow."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
PICTURES = {".png", ".jpg", ".jpeg", ".gif"}
# an absolute path of a machine: /work/..., sqlite:////tmp/..., not .../home/ inside a URL
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|tmp|root|home|Users)/")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
# a path into this repository cited in backticks: `src/unetexp/results/runs.py`
CITED = re.compile(r"`((?:src|tests|benchmarks|conf|sweeps|docs)/[\w./-]*)`")


def documents() -> list[Path]:
    """The READMEs and every file under docs/ and sweeps/, pictures aside."""
    found = [PROJECT / "README.md", PROJECT / "benchmarks" / "README.md"]
    for folder in ("docs", "sweeps"):
        found += [p for p in sorted((PROJECT / folder).rglob("*")) if p.is_file()]
    return [p for p in found if p.suffix.lower() not in PICTURES]


def markdown() -> list[Path]:
    return [p for p in documents() if p.suffix == ".md"]


def name(path: Path) -> str:
    return str(path.relative_to(PROJECT))


def prose(text: str) -> str:
    """The text outside fenced code blocks: a link in a code sample is not a link."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its rendered text, lower case, punctuation dropped
    (letters, digits, `_`, `-` and spaces kept), spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    kept = "".join(c for c in text if c in "-_ " or unicodedata.category(c)[0] in "LMN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, repeated headings numbered as GitHub does."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(prose(path.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    """The relative link targets of a Markdown file (web and mail links aside)."""
    text = INLINE_CODE.sub("", prose(path.read_text()))
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_slug_follows_github():
    assert slug("Final models (table 6)") == "final-models-table-6"
    assert slug("`hydra/sweeper=decide`") == "hydrasweeperdecide"
    assert slug("Export, compare, report") == "export-compare-report"
    assert slug("What a job run logs") == "what-a-job-run-logs"
    assert slug("1 - Depth") == "1---depth"


def test_the_checks_can_fail(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n## Title\n\n[a](#title-1) [b](#nowhere) `[c](#x)`\n```\n[d](#y)\n```\n"
    )
    assert anchors(page) == {"title", "title-1"}
    assert links(page) == ["#title-1", "#nowhere"]
    assert MACHINE_PATH.search("tracking.uri=sqlite:////work/store/mlflow.db")
    assert MACHINE_PATH.search("data: /tmp/x.npz")
    assert not MACHINE_PATH.search("https://example.org/home/x and ../tmp/y and mlruns/tmp/")


@pytest.mark.parametrize("path", documents(), ids=name)
def test_no_machine_path_and_no_outside_spec(path):
    lines = path.read_text(errors="replace").splitlines()
    found = [
        f"line {n}: {line.strip()[:80]}"
        for n, line in enumerate(lines, 1)
        if MACHINE_PATH.search(line) or "shared/spec" in line
    ]
    assert not found, (
        f"{name(path)} names a path of the machine it was made on or the study's spec "
        f"outside this project (link docs/study.md): {found[:3]}"
    )


@pytest.mark.parametrize("path", markdown(), ids=name)
def test_relative_links_reach_a_file_and_a_heading(path):
    broken = []
    for target in links(path):
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {name(dest)}")
    assert not broken, f"{name(path)}: {broken}"


@pytest.mark.parametrize("path", markdown(), ids=name)
def test_cited_repository_paths_exist(path):
    cited = CITED.findall(path.read_text())
    missing = [c for c in cited if not (PROJECT / c.rstrip(".")).exists()]
    assert not missing, f"{name(path)} cites paths that do not exist: {missing}"
