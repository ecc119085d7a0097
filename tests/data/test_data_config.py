"""The [data] table: DataConfig validation and dataset_dir resolution."""

from __future__ import annotations

import pytest

from paretoalign.config import ProfileError, load_profile
from paretoalign.data.config import DataConfig, dataset_dir
from paretoalign.paths import REPO_ROOT


def _profile(tmp_path, text: str):
    path = tmp_path / "p.toml"
    path.write_text(text)
    return load_profile(path, results_root=tmp_path / "results")


def test_shop_is_the_default(tmp_path):
    prof = _profile(tmp_path, "")
    cfg = prof.section("data", DataConfig)
    assert (cfg.source, cfg.folder, cfg.max_len) == ("shop", None, 50)
    assert dataset_dir(prof) == tmp_path / "results" / "p" / "data"


def test_folder_relative_to_repo_root_or_absolute(tmp_path):
    prof = _profile(tmp_path, '[data]\nsource = "folder"\nfolder = "results/x"\n')
    assert dataset_dir(prof) == REPO_ROOT / "results" / "x"
    prof = _profile(tmp_path, f'[data]\nsource = "folder"\nfolder = "{tmp_path}/d"\n')
    assert dataset_dir(prof) == tmp_path / "d"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[data]\nsource = "folder"\n', "needs folder"),
        ('[data]\nfolder = "x"\n', "only used with"),
        ('[data]\nsource = "s3"\n', "source"),
        ("[data]\nmax_len = 0\n", "max_len"),
        ("[data]\nmaxlen = 5\n", "maxlen"),
    ],
)
def test_bad_tables_are_rejected(tmp_path, text, fragment):
    with pytest.raises(ProfileError, match=fragment):
        _profile(tmp_path, text).section("data", DataConfig)


@pytest.mark.parametrize("name", ["smoke", "default", "otto"])
def test_shipped_profiles_have_a_valid_data_table(name):
    prof = load_profile(name)
    cfg = prof.section("data", DataConfig)
    assert cfg.max_len >= 1
    expected = prof.results / "data" if cfg.source == "shop" else REPO_ROOT / "results/otto-data"
    assert dataset_dir(prof) == expected
