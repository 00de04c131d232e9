"""One synthetic video: the dancer and studio a dataset shares, the walk, the traits, the look."""

import numpy as np
import pytest
from PIL import Image

from modules.data import dance_video as dv

SIZE = (64, 128)


def pixels(image):
    return np.asarray(image, dtype=np.float64)


def figure_mask(spec, person):
    """Pixels where the person frame differs from the empty studio."""
    empty = pixels(Image.fromarray(dv.render_background(spec)).reduce(dv.SUPERSAMPLE))
    return np.abs(pixels(person) - empty).max(axis=-1) > 20


def test_one_dancer_and_one_studio_in_every_split_with_different_dances_and_walks():
    specs = [dv.sample_video(4, split, i, 100, SIZE) for split, i in (("train", 0), ("train", 1), ("val", 0), ("test", 2))]
    assert all(s.body == specs[0].body and s.studio == specs[0].studio for s in specs)
    assert len({s.dance.beat for s in specs}) == len(specs)
    assert len({s.walk.xs[0] for s in specs}) == len(specs)
    assert dv.sample_video(5, "train", 0, 100, SIZE).body != specs[0].body  # another seed, another dancer


def test_per_video_draws_a_new_dancer_and_studio_for_every_video():
    specs = [dv.sample_video(4, "train", i, 100, SIZE, dancers="per_video") for i in range(3)]
    assert len({s.body.shirt for s in specs}) == 3 and len({s.studio.wall for s in specs}) == 3
    with pytest.raises(ValueError, match="dancers must be one of"):
        dv.sample_video(4, "train", 0, 100, SIZE, dancers="some")


def test_the_same_seed_gives_the_same_video():
    a, b = (dv.sample_video(2, "val", 0, 80, SIZE) for _ in range(2))
    frames_a, frames_b = dv.render_frames(a, [0, 40]), dv.render_frames(b, [0, 40])
    assert all(pixels(p).tobytes() == pixels(q).tobytes() for (p, _), (q, _) in zip(frames_a, frames_b))


def test_seed_0_dresses_the_course_dancer_dark_on_a_light_grey_studio():
    spec = dv.sample_video(0, "train", 0, 10, SIZE)
    person, _ = dv.render_frames(spec, [0])[0]
    frame, figure = pixels(person), figure_mask(spec, person)
    assert frame[figure].mean() < 100 < 130 < frame[~figure].mean() < 180
    assert np.ptp(frame[~figure].mean(axis=0)) < 10  # a neutral grey


def test_the_figure_fills_most_of_the_frame_height_when_standing():
    for index in range(4):
        spec = dv.sample_video(0, "train", index, 40, SIZE, dancers="per_video")
        standing = dv.VideoSpec(spec.body, spec.studio, spec.dance, dv.Walk(np.array([0.0, 1e9]), np.array([0.5, 0.5])),
                                spec.n_frames, SIZE)
        joints = dv.pose_joints(standing, 0, np.clip(np.zeros(len(dv.DOFS)), dv.DOF_LOW, dv.DOF_HIGH))
        person = dv.render_person(standing, joints, dv.render_background(standing))
        rows = np.nonzero(figure_mask(standing, person).any(axis=1))[0]
        assert rows.max() - rows.min() >= 0.65 * SIZE[0]


def test_the_pose_determines_the_frame_and_the_figure_moves():
    spec = dv.sample_video(0, "val", 0, 60, (32, 64))
    (p0, l0), (p1, l1), (p0b, _) = dv.render_frames(spec, [0, 30, 0])
    assert pixels(p0).tobytes() == pixels(p0b).tobytes()
    assert np.abs(pixels(p0) - pixels(p1)).mean() > 0.5 and np.abs(pixels(l0) - pixels(l1)).mean() > 0.5


def test_the_walk_passes_its_keyframes_and_eases_in_and_out():
    walk = dv.Walk(times=np.array([0.0, 10.0, 40.0]), xs=np.array([0.2, 0.2, 0.8]))
    x, walking = dv.stage_x(walk, [0, 5, 10, 16, 25, 34, 40, 50])
    np.testing.assert_allclose(x, [0.2, 0.2, 0.2, 0.2 + 0.6 * 0.2 ** 2 * 2.6, 0.5, 0.8 - 0.6 * 0.2 ** 2 * 2.6, 0.8, 0.8])
    np.testing.assert_allclose(walking, [0, 0, 0, 6 / dv.WALK_RAMP, 1, 6 / dv.WALK_RAMP, 0, 0])


def test_walks_start_inside_the_frame_and_reach_its_edges_and_beyond():
    walks = [dv.sample_walk(np.random.default_rng(i), 630) for i in range(40)]
    assert all(0.15 <= w.xs[0] <= 0.85 for w in walks)
    xs = np.concatenate([dv.stage_x(w, np.arange(630))[0] for w in walks])
    assert xs.min() < 0.0 and xs.max() > 1.0  # some leave the frame
    assert 0.05 < np.mean((xs < 0.09) | (xs > 0.91)) < 0.4  # at an edge in a share of the frames


def test_a_dancer_at_the_edge_is_cut_by_it_and_one_beyond_it_is_gone():
    spec = dv.sample_video(0, "train", 0, 10, SIZE)
    for x, cut, gone in ((0.5, False, False), (0.02, True, False), (1.25, False, True)):
        at = dv.VideoSpec(spec.body, spec.studio, spec.dance, dv.Walk(np.array([0.0, 1e9]), np.array([x, x])),
                          10, SIZE)
        person, _ = dv.render_frames(at, [0])[0]
        mask = figure_mask(at, person)
        assert (mask[:, 0].any() or mask[:, -1].any()) == cut and (not mask.any()) == gone


def test_walking_turns_to_profile_and_strides():
    spec = dv.sample_video(1, "train", 0, 630, SIZE)
    t = np.arange(630)
    dofs = dv.pose_trajectory(spec, t)
    walking = dv.stage_x(spec.walk, t)[1] == 1.0
    assert walking.any() and (~walking).any()
    assert (dofs[walking, dv.TURN] == 1.0).all()
    assert np.ptp(dofs[walking, 4]) > 0.3  # the right leg swings


def test_some_moves_crouch_or_lunge_and_lower_the_figure():
    dances = [dv.sample_dance(np.random.default_rng(i), 630) for i in range(60)]
    low = np.concatenate([d.base[:, dv.CROUCH] > 0.4 for d in dances])
    assert 0.1 < low.mean() < 0.45
    spec = dv.sample_video(0, "train", 0, 10, SIZE)
    standing, crouching = np.clip(np.zeros(len(dv.DOFS)), dv.DOF_LOW, dv.DOF_HIGH), np.zeros(len(dv.DOFS))
    crouching[dv.CROUCH] = 0.9
    heights = [np.ptp(dv.pose_joints(spec, 0, d)[:, 1]) for d in (standing, crouching)]
    assert heights[1] < 0.85 * heights[0]


def test_dofs_stay_within_limits_and_change_smoothly():
    spec = dv.sample_video(3, "train", 0, 630, (32, 64))
    dofs = dv.pose_trajectory(spec, np.arange(630))
    assert dofs.shape == (630, len(dv.DOFS))
    assert (dofs >= dv.DOF_LOW).all() and (dofs <= dv.DOF_HIGH).all()
    assert np.abs(np.diff(dofs, axis=0)).max() < 0.5  # radians per frame: no jumps at move changes
