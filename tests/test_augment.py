"""--hue_aug: a rotation about the grey axis, one angle per clip."""
import math
import random

import torch

from modules.data.augment import hue_rotation, random_hue_rotation, rotate_hue


def test_rotation_is_orthonormal_and_fixes_grey():
    for angle in (0.3, 1.0, 2.5, 5.9):
        matrix = hue_rotation(angle)
        torch.testing.assert_close(matrix @ matrix.T, torch.eye(3, dtype=torch.float64))
        torch.testing.assert_close(torch.linalg.det(matrix), torch.tensor(1.0, dtype=torch.float64))
        torch.testing.assert_close(matrix @ torch.ones(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))


def test_a_third_of_a_turn_cycles_the_channels_and_zero_is_the_identity():
    clips = torch.rand(2, 3, 3, 4, 5, generator=torch.Generator().manual_seed(0))
    rotated = rotate_hue(clips, [2 * math.pi / 3, 0.0])
    torch.testing.assert_close(rotated[0], clips[0][:, [2, 0, 1]])
    torch.testing.assert_close(rotated[1], clips[1])


def test_one_angle_per_clip_all_frames_alike_and_values_stay_in_range():
    clips = torch.rand(3, 4, 3, 2, 2, generator=torch.Generator().manual_seed(1))
    clips[:, 1] = clips[:, 0]  # two equal frames in every clip stay equal
    out = random_hue_rotation(clips, random.Random(0))
    torch.testing.assert_close(out[:, 1], out[:, 0])
    assert out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out, clips)
    torch.testing.assert_close(out, random_hue_rotation(clips, random.Random(0)))  # seeded: a resume repeats it
    grey = torch.full((1, 2, 3, 2, 2), 0.4)
    torch.testing.assert_close(random_hue_rotation(grey, random.Random(3)), grey)
