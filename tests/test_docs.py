"""The README and docs/ as a user meets them: the README stays short and says what is true now
(no version, session or machine history), and no link leaves the repository or points at a
file that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)|<img src=\"([^\"]+)\"")
README_LIMIT = 12_000  # bytes (UTF-8): what the repository check counts
# checkpoint versions (not `-v0` ids), sessions, VMs
HISTORY_WORDS = re.compile(r"(?<![-\w])v\d+\b|\bsessions? \d+|\bVMs?\b")


def links(page: Path) -> list[str]:
    return [a or b for a, b in LINK.findall(page.read_text())]


def test_readme_is_short():
    assert len((REPO / "README.md").read_bytes()) <= README_LIMIT


def test_readme_tells_no_history():
    lines = [line for line in (REPO / "README.md").read_text().splitlines()
             if HISTORY_WORDS.search(line)]
    assert not lines


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_stay_in_the_repository_and_resolve(page):
    for target in links(page):
        if target.startswith("#"):
            continue
        assert "://" not in target, f"{page.name}: {target} leaves the repository"
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(REPO), f"{page.name}: {target} leaves the repository"
        assert path.exists(), f"{page.name}: {target} does not exist"


def test_link_pattern_finds_markdown_and_image_links(tmp_path):
    page = tmp_path / "p.md"
    page.write_text('see [a](docs/a.md) and <img src="docs/img/x.png" alt="x">\n')
    assert links(page) == ["docs/a.md", "docs/img/x.png"]
