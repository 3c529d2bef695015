"""Config: presets, overrides, files, the JSON round trip and every bad value."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.config import RunConfig
from rnnlab.presets import PRESETS, apply_overrides, load_config_file, preset, resolve_config
from rnnlab.errors import ConfigError, InputError


def test_seed_preset_holds_the_blog_values():
    c = preset("seed")
    assert (c.data.series, c.data.points_per_period, c.data.periods) == ("sine", 36, 1)
    assert (c.data.min_length, c.data.horizon) == (4, 1)
    assert (c.model.cell, c.model.nonlinearity, c.model.input_size, c.model.hidden_size) == ("rnn", "tanh", 1, 4)
    assert (c.model.num_layers, c.model.readout) == (1, "unit")
    assert (c.train.optimizer, c.train.lr, c.train.steps, c.train.loss, c.train.log_every) == ("sgd", 0.1, 20000, "mse", 10)
    assert c.train.momentum == 0 and c.train.batch_size == 1
    assert c.forecast.steps == 10


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_round_trips_through_json(name):
    config = apply_overrides(preset(name), {"seed": 5})
    assert RunConfig.from_dict(json.loads(config.to_json())) == config


@settings(max_examples=40, deadline=None)
@given(
    hidden=st.integers(1, 64),
    layers=st.integers(1, 4),
    cell=st.sampled_from(["rnn", "lstm", "gru"]),
    nonlinearity=st.sampled_from(["tanh", "relu"]),
    readout=st.sampled_from(["unit", "linear"]),
    lr=st.floats(1e-6, 10, allow_nan=False),
    steps=st.integers(1, 10**6),
    seed=st.one_of(st.none(), st.integers(0, 2**40)),
)
def test_any_valid_config_round_trips(hidden, layers, cell, nonlinearity, readout, lr, steps, seed):
    config = apply_overrides(
        preset("seed"),
        {"model.hidden_size": hidden, "model.num_layers": layers, "model.cell": cell,
         "model.nonlinearity": nonlinearity, "model.readout": readout, "train.lr": lr,
         "train.steps": steps, "seed": seed},
    )
    again = RunConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert again.model.hidden_size == hidden and again.train.lr == lr


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("model.hidden_size", 0, "model.hidden_size must be >= 1, got 0"),
        ("model.hidden_size", -3, "model.hidden_size must be >= 1, got -3"),
        ("train.lr", 0.0, "train.lr must be a finite number > 0, got 0.0"),
        ("train.lr", -0.1, "train.lr must be a finite number > 0, got -0.1"),
        ("train.lr", float("nan"), "train.lr must be a finite number > 0, got nan"),
        ("train.steps", 0, "train.steps must be >= 1, got 0"),
        ("data.min_length", 0, "data.min_length must be >= 1, got 0"),
        ("model.cell", "transformer", "model.cell must be one of rnn, lstm, gru; got 'transformer'"),
        ("model.readout", "mean", "model.readout must be one of unit, linear; got 'mean'"),
        ("model.hidden_size", "four", "model.hidden_size must be an integer, got 'four'"),
        ("model.hidden_size", 4.0, "model.hidden_size must be an integer, got 4.0"),
        ("train.lr", True, "train.lr must be a number, got True"),
        ("data.min_length", 40, "data.min_length + data.horizon must be <= 36"),
    ],
)
def test_bad_values_name_the_key(key, value, message):
    with pytest.raises(ConfigError) as info:
        apply_overrides(preset("seed"), {key: value})
    assert message in str(info.value)


def test_unknown_key_and_preset_are_named():
    with pytest.raises(ConfigError, match="unknown config key model.hiden_size"):
        RunConfig.from_dict({"model": {"hiden_size": 3}})
    with pytest.raises(ConfigError, match="unknown config key colour"):
        RunConfig.from_dict({"colour": "red"})
    with pytest.raises(ConfigError, match="preset must be one of seed.*got 'nope'"):
        preset("nope")


def test_files_override_preset_and_flags_override_files(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('seed = 9\n[model]\ncell = "gru"\nhidden_size = 6\n[train]\nlr = 0.05\n')
    config = resolve_config(None, toml, {"model.hidden_size": 3})
    assert (config.seed, config.model.cell, config.model.hidden_size, config.train.lr) == (9, "gru", 3, 0.05)
    assert config.train.steps == 20000  # untouched keys keep the preset's value

    js = tmp_path / "c.json"
    js.write_text(json.dumps({"train": {"steps": 12}}))
    assert resolve_config(None, js, {}).train.steps == 12


@pytest.mark.parametrize(
    "name,text,message",
    [
        ("bad.toml", "seed = = 3", "is not valid TOML"),
        ("bad.json", "{seed: 3", "is not valid JSON"),
        ("list.json", "[1, 2]", "must hold a table of keys"),
        ("c.yaml", "seed: 3", "must end in .toml or .json"),
        ("unknown.toml", "[model]\nsize = 3", "unknown config key model.size"),
        ("type.json", '{"train": {"steps": "many"}}', "train.steps must be an integer, got 'many'"),
    ],
)
def test_bad_config_files(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        resolve_config(None, path, {})


def test_missing_config_file():
    with pytest.raises(InputError, match="does not exist"):
        load_config_file("/nonexistent/c.toml")
