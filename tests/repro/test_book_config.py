"""The book's header buttons and the citation metadata agree with the repository's files.

``make lint`` validates CITATION.cff against the CFF 1.2.0 schema (cffconvert); these
tests check its content against the book's "How to cite" (book/intro.md) and pyproject,
and that the book's configuration turns on the repository, issue and download buttons.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _citation() -> dict:
    return yaml.safe_load((REPO / "CITATION.cff").read_text())


def test_book_buttons_link_the_repository_and_offer_the_notebook_download():
    from jupyter_book.config import get_final_config

    config, _ = get_final_config(
        user_yaml=REPO / "book" / "_config.yml",
        sourcedir=REPO / "book",
        cli_config={"latex_individualpages": False},
    )
    theme = config["html_theme_options"]
    assert theme["repository_url"] == _citation()["repository-code"]
    assert theme["path_to_docs"] == "book" and theme["repository_branch"] == "main"
    assert theme["use_repository_button"] and theme["use_issues_button"]
    assert not theme["use_edit_page_button"]
    # the source file of an executed chapter is its .ipynb: the download menu offers it
    assert theme["use_download_button"] and config["html_show_sourcelink"]


def test_citation_matches_the_books_how_to_cite_and_pyproject():
    cff = _citation()
    intro = (REPO / "book" / "intro.md").read_text()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert cff["cff-version"] == "1.2.0"
    assert cff["version"] == project["version"]
    assert f"Version {project['version']}" in intro
    assert f"title  = {{{cff['title']}}}" in intro
    assert cff["authors"] == [{"name": "the paretoalign contributors"}]
    assert cff["license"] == "MIT" and project["license"] == {"text": "MIT"}
    paper = cff["preferred-citation"]
    assert f"doi       = {{{paper['doi']}}}" in intro
    assert f"pages     = {{{paper['start']}--{paper['end']}}}" in intro
    assert f"year      = {{{paper['year']}}}" in intro
    assert paper["collection-title"] in intro
    title = re.search(r"title\s+= \{(Identifying[^}]*)\}", intro).group(1)
    assert " ".join(title.split()) == paper["title"]
    assert [(a["given-names"], a["family-names"]) for a in paper["authors"]] == [
        ("Timo", "Wilm"),
        ("Philipp", "Normann"),
    ]
    assert "Wilm, Timo and Normann, Philipp" in intro
