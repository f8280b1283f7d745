"""Bundled presets: found by name (dashes or underscores), unknown names listed with a
did-you-mean, and each preset is the single source of the example file of the same name."""

import pytest
from helpers import ROOT

from rnnlab.config import load_config, preset_names, preset_path
from rnnlab.errors import ConfigError

PRESETS = ROOT / "src" / "rnnlab" / "presets"


def test_preset_names_are_the_bundled_files():
    names = preset_names()
    assert names == sorted(p.stem for p in PRESETS.glob("*.toml"))
    assert {"imdb_strong", "jigsaw_strong"} <= set(names)


@pytest.mark.parametrize("name", ["imdb-strong", "imdb_strong"])
def test_a_preset_by_name(name):
    path = preset_path(name)
    assert path.name == "imdb_strong.toml" and path.is_file()
    assert path.read_bytes() == (PRESETS / "imdb_strong.toml").read_bytes()
    assert load_config(path).name == "imdb_strong"


def test_an_unknown_preset_lists_the_names_with_a_did_you_mean():
    with pytest.raises(ConfigError) as exc:
        preset_path("imdb-strnog")
    assert str(exc.value) == (f"Unknown preset 'imdb_strnog'; presets: {', '.join(preset_names())}. "
                              f"Did you mean 'imdb_strong'?")
    with pytest.raises(ConfigError) as exc:
        preset_path("zzz")
    assert str(exc.value) == f"Unknown preset 'zzz'; presets: {', '.join(preset_names())}."


@pytest.mark.parametrize("preset", sorted(PRESETS.glob("*.toml")), ids=lambda p: p.name)
def test_every_preset_is_byte_identical_to_its_example(preset):
    # examples/<name>.toml is a symlink to the preset in git; a checkout without symlinks (or an
    # edit that replaced the link) must still hold the same bytes
    example = ROOT / "examples" / preset.name
    assert example.is_file(), f"examples/{preset.name} is missing; link or copy it from src/rnnlab/presets/"
    assert example.read_bytes() == preset.read_bytes(), (
        f"examples/{preset.name} differs from src/rnnlab/presets/{preset.name} (the source); link or copy the preset")


@pytest.mark.parametrize("name", ["imdb-strong", "jigsaw-strong"])
def test_strong_presets_name_their_vectors_and_scratch_ones_need_none(name):
    strong = load_config(preset_path(name))
    assert strong.model.embedding.pretrained == "glove-6b-50d" and strong.model.embedding.dim == 50
    scratch = load_config(preset_path(name.replace("strong", "scratch")))
    assert scratch.model.embedding.pretrained is None
    assert scratch.model.layers == strong.model.layers  # the same network, without the vectors


def test_a_strong_preset_without_its_vectors_package_is_one_line(tmp_path, monkeypatch, capsys):
    import dataclasses

    from helpers import run_cli, write_toy_csv
    from rnnlab.config import vectors as cv

    absent = dataclasses.replace(cv.NAMED_VECTORS["glove-6b-50d"], package="rnnlab_no_such_glove")
    monkeypatch.setitem(cv.NAMED_VECTORS, "glove-6b-50d", absent)
    data = write_toy_csv(tmp_path / "toy.csv", n=40)
    code, out, err = run_cli(["train", "--preset", "imdb-strong", "--set", f"data.path={data}", "--set",
                              "data.dataset=table", "--set", "data.text_column=text", "--set",
                              "data.label_columns=[\"pos\"]", "--out", tmp_path / "r"], capsys)
    assert code != 0 and "Traceback" not in out + err
    assert err.strip().count("\n") == 0 and 'pip install "rnnlab[glove]"' in err
    assert not (tmp_path / "r").exists()
