"""Config: presets, overrides, validation with helpful one-line errors, round trips."""

import pytest

from gankit import config
from gankit.errors import GankitError


def test_every_preset_loads_and_round_trips(tmp_path):
    names = config.presets()
    assert {"ring", "grid", "gaussian1d", "mixture1d", "sequence", "points"} <= set(names)
    for name, description in names.items():
        assert description, name
        if name == "points":
            continue  # needs data.path; checked when data is built, not here
        cfg = config.load(name)
        path = tmp_path / f"{name}.toml"
        path.write_text(cfg.to_toml())
        assert config.load(path) == cfg


def test_resolved_config_spells_out_every_default():
    d = config.load("ring").to_dict()
    assert d["generator"]["activation"] == "relu" and d["discriminator"]["pack"] == 1
    assert d["data"] == {"kind": "ring", "n_modes": 8, "radius": 1.0, "std": 0.01}


def test_overrides_are_typed():
    cfg = config.load("ring", ["train.steps=12", "train.lr_g=1e-3", "loss.name=hinge",
                               "generator.spectral_norm=true", "train.lr_d=1"])
    assert cfg.train.steps == 12 and cfg.train.lr_g == 1e-3 and cfg.loss.name == "hinge"
    assert cfg.generator.options["spectral_norm"] is True
    assert cfg.train.lr_d == 1.0 and isinstance(cfg.train.lr_d, float)


@pytest.mark.parametrize("target,overrides,match", [
    ("rnig", [], "unknown preset 'rnig'.*did you mean ring"),
    ("ring", ["train.stpes=5"], "unknown key train.stpes.*did you mean steps"),
    ("ring", ["trian.steps=5"], "unknown section 'trian'.*did you mean train"),
    ("ring", ["loss.name=hinj"], "unknown loss 'hinj'.*did you mean hinge"),
    ("ring", ["loss.penalty=gp"], "unknown penalty 'gp'"),
    ("ring", ["generator.widht=3"], "unknown key generator.widht.*did you mean width"),
    ("ring", ["data.kind=rign"], "unknown data kind 'rign'.*did you mean ring"),
    ("ring", ["train.steps=many"], "train.steps must be an integer, got 'many'"),
    ("ring", ["train.steps=0"], "train.steps must be >= 1"),
    ("ring", ["discriminator.pack=2", "train.batch_size=255"], "multiple of discriminator.pack=2"),
    ("ring", ["loss.name=hinge", "loss.label_smoothing=0.1"], "no meaning for loss 'hinge'"),
    ("ring", ["train.ema=1.5"], r"train.ema must be in \[0, 1\)"),
    ("ring", ["train.max_minutes=-1"], "max_minutes must be >= 0"),
    ("ring", ["steps=5"], "section.key=value"),
    ("ring", ["train.device=tpu"], "train.device 'tpu'"),
    ("missing.toml", [], "config file not found: 'missing.toml'"),
    ("ring", ["discriminator.pack=0"], "discriminator.pack must be >= 1"),
    ("ring", ["data.kind=[1]"], "data.kind must be a name"),
    ("ring", ["train.device=cudax"], "train.device 'cudax'"),
    ("ring", ["train.lr_g=nan"], "train.lr_g must be a finite number"),
    ("ring", ["loss.name=wasserstein"], "needs a Lipschitz constraint"),
    ("ring", ["loss.penalty=r1", "discriminator.norm=batch"], "batch norm in D"),
    ("ring", ["discriminator.pack=2", "train.batch_size=2", "discriminator.norm=batch"],
     "gives discriminator 1 sample.*norm=.batch."),
    ("mnist", ["train.batch_size=1"], "gives generator 1 sample.*generator.norm='batch'"),
    ("ring", ["train.augment=translation"], "DiffAugment.*works on images"),
    ("ring", ["train.device=cuda:01"], "train.device 'cuda:01'"),
    ("mixture1d", ["data.means=[nan, 0, 1]"], r"data.means must be a list of numbers \(finite"),
    ("mixture1d", ["data.means=[true, false]"], "data.means must be a list of numbers"),
    ("mixture1d", ["data.means=[1e39, 0, 1]"], "data.means must be a list of numbers"),
    ("mixture1d", ["data.means=5"], "data.means must be a list of numbers, got 5"),
    ("mixture1d", ["data.weights=abc"], "data.weights must be a list of numbers, got 'abc'"),
    ("mixture1d", ["data.std=[0.5, nan]"], "data.std must be a number or a list of numbers"),
    ("ring", ["loss.penalty_weight=1e39"], "penalty_weight must be a finite number .*float32"),
    ("gaussian1d", ["data.mean=1e308"], "data.mean must be a finite number"),
    ("ring", ["loss.penalty_weight=-1"], r"loss.penalty_weight must be >= 0, got -1"),
    ("ring", ["loss.penalty_every=0"], r"loss.penalty_every must be >= 1, got 0"),
    ("ring", ["train.picture_every=-1"], r"train.picture_every must be >= 0, got -1"),
    ("ring", ["train.name=hinge"], r"train.name \(name is a \[loss\] key: loss.name\)"),
    ("mnist", ["data.resolution=27"], "data.resolution=27 does not fit the dcgan nets"),
])
def test_bad_input_is_one_clear_line(target, overrides, match):
    with pytest.raises(GankitError, match=match) as e:
        config.load(target, overrides)
    assert "\n" not in str(e.value)


def test_a_config_file_that_is_a_folder_or_has_a_table_for_a_description(tmp_path):
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(GankitError, match="dir.toml' is a folder, not a config file"):
        config.load(tmp_path / "dir.toml")
    (tmp_path / "d.toml").write_text('description = 5\n[data]\nkind = "ring"\n')
    with pytest.raises(GankitError, match="description must be a string, got 5"):
        config.load(tmp_path / "d.toml")


def test_the_description_is_an_override_too():
    assert config.load("ring", ["description=my ring"]).description == "my ring"
    with pytest.raises(GankitError, match="description must be a string, got 5"):
        config.load("ring", ["description=5"])


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[train\nsteps = 1")
    with pytest.raises(GankitError, match="broken.toml: not valid TOML"):
        config.load(path)


def test_config_file_with_partial_sections(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[data]\nkind = "grid"\n[train]\nsteps = 7\n')
    cfg = config.load(path)
    assert cfg.data.kind == "grid" and cfg.train.steps == 7 and cfg.loss.name == "nonsaturating"


def test_a_relative_data_path_is_stored_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = config.load("points", ["data.path=pts.csv"])
    assert cfg.data.options["path"] == str(tmp_path / "pts.csv")
