"""The composite output head of --arch pyramid: warp, selection, start, its loss, diagnostics."""
import math

import torch

from modules.architectures import build_vae, model_config
from modules.composite import COPY_BIAS, CompositeHead, diagnostics, selection_stats, warp
from modules.config import parse_train_args
from modules.objective import candidate_loss
from modules.pyramid import PyramidVAE

WIDTHS = dict(F_dim=16, L_dim=8, N_dim=4, D_out_dim=16)


def test_warp_of_zero_flow_is_the_image_and_a_whole_pixel_flow_shifts_it():
    image = torch.rand(2, 3, 8, 16)
    flow = torch.zeros(2, 2, 8, 16)
    torch.testing.assert_close(warp(image, flow), image)
    flow[:, 0] = 2.0  # x: out[y, x] = image[y, x + 2]
    torch.testing.assert_close(warp(image, flow)[..., :-2], image[..., 2:])
    flow = torch.zeros(2, 2, 8, 16)
    flow[:, 1] = -1.0  # y: out[y, x] = image[y - 1, x]
    torch.testing.assert_close(warp(image, flow)[..., 1:, :], image[..., :-1, :])


def test_warp_of_a_half_pixel_flow_averages_neighbours_and_is_black_off_the_frame():
    image = torch.arange(1.0, 5.0).view(1, 1, 1, 4).expand(1, 1, 2, 4).contiguous()
    flow = torch.zeros(1, 2, 2, 4)
    flow[:, 0] = 0.5
    torch.testing.assert_close(warp(image, flow)[0, 0, 0], torch.tensor([1.5, 2.5, 3.5, 2.0]))  # 4 and 0: 2
    flow[:, 0] = 10.0
    assert float(warp(image, flow).abs().max()) == 0


def test_untrained_head_is_a_known_mix_close_to_the_first_frame():
    head = CompositeHead(width=8, coarse_width=4)
    first = torch.rand(2, 3, 16, 32)
    with torch.no_grad():
        frame, parts = head(torch.randn(2, 8, 16, 32), torch.randn(2, 4, 4, 8), first)
    copy = math.exp(COPY_BIAS) / (2 * math.exp(COPY_BIAS) + 1)  # each copy of frame 0
    torch.testing.assert_close(frame, 2 * copy * first + (1 - 2 * copy) * 0.5)
    torch.testing.assert_close(parts["weights"].sum(dim=1), torch.ones(2, 16, 32))
    assert float(parts["flow"].abs().max()) == 0
    assert set(parts) == {"weights", "flow", "warped", "scratch"}


def test_trained_head_output_is_the_selection_weighted_sum_of_its_candidates():
    head = CompositeHead(width=8, coarse_width=4)
    with torch.no_grad():
        for p in head.parameters():
            p.normal_(0, 0.5)
    first = torch.rand(1, 3, 16, 32)
    frame, parts = head(torch.randn(1, 8, 16, 32), torch.randn(1, 4, 4, 8), first)
    w = parts["weights"]
    expected = w[:, 0:1] * first + w[:, 1:2] * parts["warped"] + w[:, 2:3] * parts["scratch"]
    torch.testing.assert_close(frame, expected)
    torch.testing.assert_close(parts["warped"], warp(first, parts["flow"]))
    assert float(parts["flow"].detach().abs().max()) > 0


def test_the_pyramid_head_keeps_its_checkpoint_keys_and_presets_build_it():
    composite = set(PyramidVAE(**WIDTHS).state_dict())
    assert {"Generator.head.select.weight", "Generator.head.flow.weight", "Generator.head.scratch.bias"} <= composite
    for preset in ("lab4", "cpu_pyramid"):
        model = build_vae(model_config(vars(parse_train_args(["--preset", preset]))))
        assert isinstance(model.Generator.head, CompositeHead)


def test_candidate_loss_is_the_per_frame_mse_of_the_generated_candidate():
    target = torch.rand(2, 3, 3, 4, 4)
    parts = {"warped": torch.rand(2, 3, 3, 4, 4), "scratch": torch.rand(2, 3, 3, 4, 4), "flow": torch.rand(2, 3, 2, 4, 4)}
    expected = 3 * ((parts["scratch"] - target) ** 2).mean()  # 3 frames of equal size
    torch.testing.assert_close(candidate_loss(parts, target), expected)
    assert float(candidate_loss({}, target)) == 0  # the template networks have no candidates


def test_selection_stats_count_vacated_and_dancer_pixels_of_a_toy_clip():
    # 1x4 frames on a white studio; the dancer (black) stands on pixel 0 in frame 0, on pixel 3 in
    # frames 1-2 and on pixel 2 in frames 3-4: the median of the clip is the white studio.
    frames = torch.ones(1, 5, 3, 1, 4)
    frames[:, 0, :, 0, 0] = 0.0
    frames[:, 1:3, :, 0, 3] = 0.0
    frames[:, 3:5, :, 0, 2] = 0.0
    weights = torch.zeros(1, 4, 3, 1, 4)
    weights[:, :, 0] = 0.25  # the unmoved frame 0's weight everywhere
    flow = torch.zeros(1, 4, 2, 1, 4)
    flow[:, :, 0] = 3.0
    flow[:, :, 1] = 4.0  # magnitude 5 everywhere
    stats = selection_stats({"weights": weights, "flow": flow}, frames)
    # vacated: pixel 0 of frames 1..4; dancer: one pixel in each of frames 1..4.
    assert stats.tolist() == [4 * 0.25, 4, 4 * 5.0, 4]
    assert diagnostics(stats) == {"first_weight_vacated": 0.25, "flow_on_dancer": 5.0}
    assert all(math.isnan(v) for v in diagnostics(selection_stats({}, frames)).values())
