import sys
from pathlib import Path

import pytest

from toolchain.config import Config, PruneConfig, from_dict, load_config, parse_override, to_dict
from toolchain.errors import ConfigError


def test_defaults_and_round_trip():
    cfg = load_config()
    assert cfg.data.batch_size == 1024 and cfg.synth.snrs[0] == -20 and len(cfg.synth.snrs) == 26
    assert from_dict(Config, to_dict(cfg)) == cfg


def test_yaml_then_overrides_win(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("data:\n  batch_size: 256\n  classes: [BPSK, QPSK]\nsynth:\n  channel:\n    max_cfo: 0.02\n")
    cfg = load_config(f, ["data.batch_size=64", "synth.snrs=[0, 10]", "synth.channel.enabled=false"])
    assert cfg.data.batch_size == 64
    assert cfg.data.classes == ["BPSK", "QPSK"]
    assert cfg.synth.snrs == [0, 10]
    assert cfg.synth.channel.max_cfo == 0.02 and cfg.synth.channel.enabled is False


@pytest.mark.parametrize(
    "override, named",
    [
        ("data.batchsize=3", "'data.batchsize'"),
        ("synth.channel.foo=1", "'synth.channel.foo'"),
        ("nosection.x=1", "'nosection'"),
        ("data.batch_size=abc", "'data.batch_size'"),
        ("data.batch_size=true", "'data.batch_size'"),
        ("data.batch_size=0", "'data.batch_size'"),
        ("data.val_fraction=1.5", "'data.val_fraction'"),
        ("data.classes=[BPSK, NOPE]", "'data.classes'"),
        ("synth.snrs=[1, x]", "'synth.snrs[1]'"),
        ("synth.channel.enabled=2", "'synth.channel.enabled'"),
        ("data=3", "'data'"),
        ("data.batch_size.x=3", "'data.batch_size'"),
        ("finn.event_driven_frames=0", "'finn.event_driven_frames'"),
    ],
)
def test_bad_override_names_the_key(override, named):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    assert named in str(err.value)
    assert "\n" not in str(err.value)


def test_yaml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("data:\n  valfraction: 0.1\n")
    with pytest.raises(ConfigError, match="'data.valfraction'"):
        load_config(unknown)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    top = tmp_path / "list.yaml"
    top.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(top)


def test_override_syntax():
    assert parse_override("a.b=[1, 2]") == ("a.b", [1, 2])
    assert parse_override("a.b=null") == ("a.b", None)
    assert parse_override("run.out_dir=runs/x") == ("run.out_dir", "runs/x")
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("data.batch_size")


def test_int_accepted_for_float_but_not_bool():
    cfg = load_config(None, ["data.val_fraction=0"])
    assert cfg.data.val_fraction == 0.0 and isinstance(cfg.data.val_fraction, float)
    assert load_config(None, ["data.train_snrs=null"]).data.train_snrs is None


def test_text_flags_stay_text():
    from toolchain.config import text_override

    cfg = load_config(None, [text_override("data.path", "123"), text_override("run.out_dir", "a: b"),
                             text_override("model.name", "yes")])
    assert cfg.data.path == "123" and cfg.run.out_dir == "a: b" and cfg.model.name == "yes"


def test_every_key_has_a_doc_and_docs_config_md_is_generated_from_them():
    import dataclasses
    import subprocess

    from toolchain.cli.config_doc import keys, markdown, stage_readers

    missing = [k.name for k in keys() if not k.doc.strip()]
    assert not missing, f"config keys without metadata['doc']: {missing}"
    assert {k.name for k in keys()} >= {f"prune.{f.name}" for f in dataclasses.fields(PruneConfig)}
    doc = (Path(__file__).parents[1] / "docs" / "config.md").read_text()
    assert doc == markdown(stage_readers()), "stale: python -m toolchain.cli.config_doc > docs/config.md"
    out = subprocess.run([sys.executable, "-m", "toolchain.cli.config_doc"], capture_output=True, text=True, check=True)
    assert out.stdout == doc


def test_each_stage_help_lists_the_keys_it_reads(capsys):
    from toolchain.cli import main

    def help_of(stage):
        with pytest.raises(SystemExit):
            main([stage, "--help"])
        return capsys.readouterr().out

    text = help_of("prune")
    assert 'prune.method (choices: imp, fmp, default "fmp")' in text
    assert "rolled back and retried" in text and "data.batch_size (int, default 1024)" in text
    assert "classify." not in text and "finn." not in text
    text = help_of("classify")
    assert "classify.hop (int or null, default null)" in text and "classify.format (choices: '', cf32" in text
    assert "prune." not in text
