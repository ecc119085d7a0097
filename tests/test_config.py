from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from paretoalign.config import ProfileError, load_profile


class _Toy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 0


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(ProfileError, match="known profiles"):
        load_profile("no-such-profile")


def test_unknown_table_is_rejected(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text("[nonsense]\na = 1\n")
    with pytest.raises(ProfileError, match="unknown tables"):
        load_profile(p)


def test_unknown_key_in_a_section_is_rejected(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text("[shop]\nsede = 1\n")
    with pytest.raises(ProfileError, match="sede"):
        load_profile(p).section("shop", _Toy)


def test_section_defaults_and_values(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text("[shop]\nseed = 7\n")
    prof = load_profile(p)
    assert prof.section("shop", _Toy).seed == 7
    assert prof.section("train", _Toy).seed == 0
    assert prof.results.name == "x"


def test_malformed_toml(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text("[shop\n")
    with pytest.raises(ProfileError, match=str(p)):
        load_profile(p)
