"""Model configs: built from flags in one place, stored in checkpoints, read back; retired variants refused."""
import pytest
import torch

import Tester
from modules.architectures import RETIRED_AT, build_vae, checkpoint_model_config, config_dict, model_config
from modules.checkpoint import load_checkpoint, load_model_weights, save_checkpoint
from modules.config import parse_train_args
from modules.errors import UserInputError
from modules.pyramid import PyramidConfig, PyramidVAE
from modules.vae import TemplateConfig, VAE_Model

PYRAMID = {"arch": "pyramid", "F_dim": 16, "L_dim": 8, "N_dim": 4, "D_out_dim": 16}


def test_flags_give_the_models_own_config_and_it_round_trips_as_a_dict():
    config = model_config(vars(parse_train_args(["--preset", "cpu_quick"])))
    assert config == TemplateConfig(32, 8, 4, 48, fix_leaky_relu=True, output_mode="anchored")
    assert model_config(config_dict(config)) == config
    model = build_vae(config)
    assert type(model) is VAE_Model and model.config == config
    assert type(build_vae(model_config(PYRAMID))) is PyramidVAE
    assert model_config({}) == TemplateConfig()  # a template checkpoint's flags: the template's defaults


@pytest.mark.parametrize("flags, message", [
    ({"arch": "evil"}, "unknown arch 'evil': choose one of template, pyramid"),
    ({**PYRAMID, "F_dim": 200000}, "F_dim=200000 is not valid for --arch pyramid .expected an integer in .1, 1024.."),
    ({**PYRAMID, "N_dim": "8"}, "N_dim='8' is not valid"),
    ({"output_mode": "nonsense"}, "output_mode='nonsense' is not valid for --arch template .expected one of"),
    ({"fix_leaky_relu": 1}, "fix_leaky_relu=1 is not valid"),
])
def test_bad_model_configs_are_one_line(flags, message):
    with pytest.raises(UserInputError, match=message):
        model_config(flags)


def test_old_checkpoints_of_todays_models_load_and_retired_variants_are_refused():
    old_quick_start = {**PYRAMID, "output_head": "composite", "prev_input": "first", "anchor_mean": True,
                       "anchor_attention": False, "init": "default"}
    assert checkpoint_model_config({"config": old_quick_start}, "a.pt", {}) == PyramidConfig(16, 8, 4, 16)
    old_quick = {"arch": "template", "output_mode": "anchored", "init": "scaled", "F_dim": 32}
    assert checkpoint_model_config({"config": old_quick}, "a.pt", {}).output_mode == "anchored"
    assert checkpoint_model_config({"config": {}}, "a.pt", {"F_dim": 64}).F_dim == 64  # template: the flags'
    for retired, named in [({**PYRAMID}, "--output_head anchored --prev_input previous"),
                           ({**old_quick_start, "anchor_attention": True}, "--anchor_attention True"),
                           ({"arch": "template", "output_mode": "residual"}, "--output_mode residual")]:
        with pytest.raises(UserInputError, match=f"old.pt is of a retired model variant .{named}.: .* {RETIRED_AT}"):
            checkpoint_model_config({"config": retired}, "old.pt", {})


def test_tester_refuses_a_retired_checkpoint_with_one_line(tmp_path, capsys):
    path = tmp_path / "old.pt"
    model = PyramidVAE(**{k: v for k, v in PYRAMID.items() if k != "arch"})
    save_checkpoint(path, {"model": model.state_dict(), "epoch": 3,
                           "config": {**PYRAMID, "output_head": "anchored", "prev_input": "first"}})
    with pytest.raises(SystemExit) as exit_info:
        Tester.main(["--ckpt_path", str(path), "--device", "cpu"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "retired model variant (--output_head anchored)" in err


def test_a_stored_model_config_wins_over_the_stored_flags():
    ckpt = {"model_config": {**PYRAMID, "D_out_dim": 24}, "config": {"arch": "template"}}
    assert checkpoint_model_config(ckpt, "a.pt", {}) == PyramidConfig(16, 8, 4, 24)
    with pytest.raises(UserInputError, match="its model_config is not a dict"):
        checkpoint_model_config({"model_config": ["x"]}, "a.pt", {})


def test_model_modules_never_read_the_clis_config():
    """The networks, heads and losses take tensors and their own config: none imports modules.config."""
    import importlib
    for name in ("vae", "pyramid", "composite", "objective", "layers", "modules", "architectures"):
        module = importlib.import_module(f"modules.{name}")
        source = open(module.__file__).read()
        assert "from .config" not in source and "import config" not in source, name


@pytest.mark.parametrize("state, message", [
    ({"epoch": 1}, "its 'model' entry is missing or not a dict of tensors"),
    ({"model": {"w": 1}, "epoch": 0}, "its .model. entry is missing or not a dict of tensors"),
    ({"model": {}, "epoch": "abc"}, "its 'epoch' entry is 'abc', not a count of epochs"),
    ({"model": {}, "epoch": -5}, "its 'epoch' entry is -5, not a count of epochs"),
    ({"model": {}, "epoch": 2, "best_psnr": "high"}, "its best_psnr is 'high', not a number"),
    ({"model": {}, "epoch": 2, "config": [1]}, "its config is not a dict"),
])
def test_checkpoint_contents_are_checked_as_data_before_use(tmp_path, state, message):
    path = tmp_path / "c.pt"
    save_checkpoint(path, state)
    with pytest.raises(UserInputError, match=f"checkpoint .*c.pt is not usable: {message}"):
        load_checkpoint(path)
    torch.save({"state_dict": {}, "last_epoch": -1}, path)  # the course template's format too
    with pytest.raises(UserInputError, match="'last_epoch' entry is -1"):
        load_checkpoint(path)


def test_weights_of_a_retired_head_are_named_as_such():
    model = PyramidVAE(**{k: v for k, v in PYRAMID.items() if k != "arch"})
    weights = {k: v for k, v in model.state_dict().items() if not k.startswith("Generator.head.")}
    weights.update({"Generator.head.weight": torch.zeros(3, 4, 3, 3), "Generator.head.bias": torch.zeros(3)})
    with pytest.raises(UserInputError, match=f"a retired pyramid variant .--output_head anchored.: .* {RETIRED_AT}"):
        load_model_weights(model, weights, "old.ckpt")
