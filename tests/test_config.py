"""Settings parsed once into frozen sections, each consumer handed its own."""
import dataclasses
import subprocess
import sys

import pytest

from regbench.options.config import EvaluationConfig, RunConfig, Sections, preset_config
from regbench.errors import RegbenchError


def test_sections_are_frozen_parsed_once_and_never_stale():
    config = preset_config("smoke")
    config.validate()
    sections = config.sections()
    assert isinstance(sections, Sections) and config.sections() is sections  # once
    assert sections.evaluation.n_shuffles == 4 and sections.train.max_epochs == 3
    for section, field in ((sections.train, "batch_size"), (sections.evaluation, "n_shuffles"),
                           (sections.tuning, "trials"), (sections, "train")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(section, field, 1)
    with pytest.raises(TypeError):
        sections.model["pool_size"] = 1  # the [model] table is read-only
    config.evaluation["n_shuffles"] = 7  # the raw table changed: parsed again
    assert config.evaluation_config().n_shuffles == 7 and config.sections() is not sections
    assert config.train_config(3).seed == 3 and config.train_config(0).seed == 0
    config.evaluation["n_shuffles"] = "many"
    with pytest.raises(RegbenchError, match=r"\[evaluation\] n_shuffles = 'many'"):
        config.validate()


def test_a_default_section_is_what_a_missing_table_means_and_no_consumer_changes_it():
    """A run without an [evaluation] table is scored with the documented defaults (the
    key of its runs pinned, so stored runs keep matching), by the one cached section
    every consumer shares: no field of any section can be set on it."""
    config = RunConfig()
    evaluation = config.evaluation_config()
    assert evaluation == EvaluationConfig() and evaluation is config.sections().evaluation
    assert evaluation.hashed() == {
        "n_shuffles": 20, "max_sequences": 1000, "n_examples": 3, "batch_size": 128,
        "reference_seed": 0, "methods": ["deep_lift_shap", "input_x_gradient"],
        "freq_limit": None}                            # ig_steps = 20: added later, not keyed
    assert config.evaluation_hash() == "5047708fe48d"
    sections = config.sections()
    for section in (sections, sections.train, sections.evaluation, sections.tuning):
        for f in dataclasses.fields(section):
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(section, f.name, getattr(section, f.name))
    assert config.sections() is sections and config.evaluation_hash() == "5047708fe48d"


@pytest.mark.xfail(strict=True, reason="EvaluationConfig.methods is a list: the frozen "
                   "section's method list can be changed in place, so a consumer could make "
                   "the cached sections disagree with the raw [evaluation] table")
def test_the_method_list_of_a_section_cannot_be_changed_in_place():
    config = RunConfig()
    with pytest.raises((TypeError, AttributeError)):
        config.evaluation_config().methods.append("ism")


def test_options_are_checked_before_torch_loads():
    code = ("import sys; from regbench.cli import main; "
            "code = main(['run', '--preset', 'smoke', '--seeds', '0', '--out', 'x']); "
            "print(code, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.split() == ["2", "False"], done.stderr


def test_the_storage_comes_from_the_environment_unless_given(monkeypatch):
    from regbench.options.config import TuningConfig
    monkeypatch.delenv("REGBENCH_STORAGE", raising=False)
    assert TuningConfig().storage is None   # then sqlite:///OUT/optuna.db
    monkeypatch.setenv("REGBENCH_STORAGE", "postgresql://u:pw@db/regbench")
    assert TuningConfig().storage == "postgresql://u:pw@db/regbench"
    assert TuningConfig(storage="sqlite:///given.db").storage == "sqlite:///given.db"


def test_ig_steps_reaches_the_methods_and_keys_runs_only_when_changed():
    from regbench.evaluate import explain_settings
    config = preset_config("smoke")
    # The key of runs scored before ig_steps was a setting (value from that commit).
    assert config.evaluation_hash() == "a909201e1464"
    assert explain_settings(config.evaluation_config(), 0, "cpu").ig_steps == 20
    config.evaluation = {**config.evaluation, "ig_steps": 50}
    assert config.evaluation_hash() != "a909201e1464"
    assert explain_settings(config.evaluation_config(), 0, "cpu").ig_steps == 50


@pytest.mark.parametrize("key, value", [("ig_steps", 0), ("n_shuffles", 0),
                                        ("max_sequences", -3), ("n_examples", -1),
                                        ("freq_limit", 0)])
def test_evaluation_settings_out_of_range_are_one_line_errors(key, value):
    config = preset_config("smoke")
    config.evaluation = {**config.evaluation, key: value}
    with pytest.raises(RegbenchError, match=rf"^\[evaluation\] {key} = {value} is not valid"):
        config.evaluation_config()


def test_config_json_says_when_the_run_overrides_the_presets_seed_count():
    """The preset's differences from the paper name its own seed count (quick: 8); a run
    with other seeds says so beside it, one with the preset's count adds nothing."""
    from types import SimpleNamespace

    from regbench.data import SimulatedSource
    from regbench.runner.manifest import _paper_differences
    from regbench.options.presets import paper_differences

    def text(seeds):
        context = SimpleNamespace(config=SimpleNamespace(preset="quick", task="profile",
                                                         seeds=seeds),
                                  source=SimulatedSource("spi1_profile"))
        return _paper_differences(context)

    preset_text = paper_differences("quick", "profile")
    assert "8 seeds" in preset_text
    assert text(8) == preset_text
    assert text(4) == preset_text + " (this run: 4 seeds)"
    assert text(1) == preset_text + " (this run: 1 seed)"
