"""The documentation travels with the code: nothing outside docs/ cites the design notes that
live outside the repository, and every relative link in the README and docs/ resolves."""

import re
import subprocess
import unicodedata
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DOCS = BASE_DIR / "docs"
PAGES = [BASE_DIR / "README.md", *sorted(DOCS.glob("*.md"))]

# Spelled as patterns so that this file does not match itself.
OUTSIDE_NOTES = re.compile(rb"\.\./shared|\b(?:DOMAIN|DESIGN|CONVENTIONS)\.md\b")
DOCS_MENTION = re.compile(r"\bdocs/([\w-]+\.md)")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
SKIPPED_DIRS = {".git", ".venv", "var", "__pycache__", "build", "node_modules"}


def tracked_files() -> list[Path]:
    """The files git tracks; without git (an exported tree), every file but the usual noise."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z"], cwd=BASE_DIR, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return [
            path
            for path in BASE_DIR.rglob("*")
            if path.is_file()
            and not SKIPPED_DIRS.intersection(path.relative_to(BASE_DIR).parts)
            and not any(part.endswith(".egg-info") for part in path.parts)
        ]
    paths = (BASE_DIR / name for name in listing.decode().split("\0") if name)
    return [path for path in paths if path.is_file()]


def outside_docs() -> list[Path]:
    return [path for path in tracked_files() if DOCS not in path.parents]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = CODE_SPAN.sub(lambda match: match.group(0)[1:-1], heading).lower()
    kept = "".join(
        char
        for char in text
        if char in " -_" or unicodedata.category(char)[0] in "LN"  # letters and numbers
    )
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {slug(heading) for heading in HEADING.findall(text)}


def links(page: Path) -> list[str]:
    text = CODE_SPAN.sub("", FENCE.sub("", page.read_text()))
    return LINK.findall(text)


def test_the_docs_exist_and_the_readme_links_each_page():
    names = {page.name for page in DOCS.glob("*.md")}
    assert {"architecture.md", "clinical-rules.md", "conventions.md", "testing.md"} <= names
    readme = set(links(BASE_DIR / "README.md"))
    assert {f"docs/{name}" for name in names} <= readme


def test_no_file_outside_docs_cites_notes_that_a_clone_does_not_have():
    citing = [
        str(path.relative_to(BASE_DIR))
        for path in outside_docs()
        if OUTSIDE_NOTES.search(path.read_bytes())
    ]
    assert citing == []


def test_every_docs_page_a_file_names_exists():
    missing = sorted(
        f"{path.relative_to(BASE_DIR)}: docs/{name}"
        for path in tracked_files()
        if path.suffix in {".py", ".html", ".js", ".md", ".yml", ".txt", ".toml", ".example", ""}
        for name in DOCS_MENTION.findall(path.read_text(errors="replace"))
        if not (DOCS / name).is_file()
    )
    assert missing == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_points_at_a_file_that_exists(page):
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_part, _, fragment = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        unknown_anchor = (
            resolved.exists()
            and resolved.suffix == ".md"
            and bool(fragment)
            and fragment not in anchors(resolved)
        )
        if not resolved.exists() or unknown_anchor:
            broken.append(target)
    assert broken == []
