"""One synthetic dance video: who dances, where, how he moves, and how a frame and its pose label look.

A video is fully described by a :class:`VideoSpec`: the dancer (:class:`Body`: proportions and
clothes), the studio (:class:`Studio`: wall, floor, lamps), the dance (:class:`Dance`: moves as sums of
sinusoids of joint angles, cross-faded) and the walk (:class:`Walk`: where on the stage he is at each
frame). The person frame at time t is a pure function of (spec, pose at t), so the pose sequence and
the first frame determine the video: nothing unexplained (no noise) is drawn.

Like the course's videos (one man in one studio, ``docs/data.md``), by default every video of a dataset
shows the same dancer in the same studio (``dancers="one"``); dances, walks, start positions and timing
differ per video. ``dancers="per_video"`` draws a new dancer and studio for every video: the harder
question of rendering a person never seen, from one frame. The traits measured on the course's videos
are drawn at their measured frequencies: walks across the whole width, exits at the left and right
edges and re-entry, crouches and lunges, turns to profile while walking.
"""

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from ..config import DANCER_MODES

SUPERSAMPLE = 2  # draw at 2x and average down: anti-aliased edges at the cost of 4x pixels
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
DATASET_CODE = 3  # the generator of what a dataset shares: its dancer and studio

# OpenPose BODY_25: keypoint order, the limbs it draws (pairs of keypoints) and its per-keypoint colours.
N_JOINTS = 25
(NOSE, NECK, R_SHOULDER, R_ELBOW, R_WRIST, L_SHOULDER, L_ELBOW, L_WRIST, MID_HIP, R_HIP, R_KNEE, R_ANKLE,
 L_HIP, L_KNEE, L_ANKLE, R_EYE, L_EYE, R_EAR, L_EAR, L_BIG_TOE, L_SMALL_TOE, L_HEEL, R_BIG_TOE,
 R_SMALL_TOE, R_HEEL) = range(N_JOINTS)
LIMBS = ((1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12),
         (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21),
         (11, 22), (22, 23), (11, 24))
JOINT_COLOURS = ((255, 0, 85), (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0),
                 (85, 255, 0), (0, 255, 0), (255, 0, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255),
                 (0, 170, 255), (0, 85, 255), (0, 0, 255), (255, 0, 170), (170, 0, 255), (255, 0, 255),
                 (85, 0, 255), (0, 0, 255), (0, 0, 255), (0, 0, 255), (0, 255, 255), (0, 255, 255),
                 (0, 255, 255))
BUILD = 1.2  # limb thickness: the course's dancer covers ~10% of the frame (docs/data.md)
LABEL_LIMB_WIDTH = 0.012  # fractions of the frame height, as in the real 512-pixel-high labels
LABEL_JOINT_RADIUS = 0.011
LABEL_LIMB_WHITENESS = 0.35  # OpenPose blends limbs into the background: pastel lines, saturated dots

SKIN_TONES = ((255, 219, 172), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36),
              (92, 58, 32))

# Degrees of freedom of a pose (angles in radians, sway in figure heights, crouch and turn 0..1), with
# their limits. A negative leg angle swings the leg across the body: a stride seen in profile.
DOFS = ("arm_r", "arm_l", "elbow_r", "elbow_l", "leg_r", "leg_l", "knee_r", "knee_l", "lean", "tilt",
        "sway", "crouch", "turn")
DOF_LOW = np.array([0.0, 0.0, 0.0, 0.0, -0.45, -0.45, 0.0, 0.0, -0.3, -0.45, -0.15, 0.0, 0.0])
DOF_HIGH = np.array([2.9, 2.9, 2.4, 2.4, 1.2, 1.2, 1.3, 1.3, 0.3, 0.45, 0.15, 1.0, 1.0])
ARMS, LEGS, KNEES, CROUCH, TURN = slice(0, 2), slice(4, 6), slice(6, 8), 11, 12

# How often the course's traits occur (measured on lab4_gif by bench/dancer_traits.py, docs/data.md):
# the share of dance moves that crouch or lunge, that turn towards profile, and of walk targets at or
# beyond a frame edge.
LOW_MOVE_SHARE = 0.12
TURNED_MOVE_SHARE = 0.2
EDGE_TARGET_SHARE = 0.22
EXIT_TARGET_SHARE = 0.1  # of those at an edge: beyond it, the dancer leaves the frame (almost) and comes back
WALK_SPEED = (0.004, 0.010)  # frame widths per frame
DWELL_FRAMES = (40, 160)
STRIDE = 0.11  # frame widths per gait cycle
WALK_RAMP = 12  # frames over which the dance turns into the gait and back


@dataclass(frozen=True)
class Body:
    """Figure proportions (fractions of its standing height) and colours (RGB 0..255)."""

    height: float  # standing height in pixels of the output frame
    head_r: float
    neck: float
    torso: float
    shoulder: float  # half the shoulder width
    hip: float  # half the hip width
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    foot: float
    skin: tuple
    hair: tuple
    shirt: tuple
    sleeve: tuple  # forearm colour: the shirt's (long sleeves) or the skin's
    trousers: tuple
    shin_colour: tuple  # the trousers' or the skin's (shorts)
    shoes: tuple


@dataclass(frozen=True)
class Studio:
    """Wall and floor colours, horizon height, lamps lighting the wall; where the feet touch the floor."""

    wall: tuple
    floor: tuple
    horizon: float  # fraction of the frame height
    lamps: tuple  # x of each lamp's pool of light on the upper wall, fractions of the frame width
    lamp_gain: float
    vignette: float
    floor_y: float  # fraction of the frame height where the soles rest


@dataclass(frozen=True)
class Dance:
    """Moves (sinusoids per DOF) and which move plays in each segment of ``segment`` frames."""

    beat: float  # beats per frame
    base: np.ndarray  # (M, D) per move and DOF
    amp: np.ndarray  # (M, D)
    harmonic: np.ndarray  # (M, D) multiples of the beat
    phase: np.ndarray  # (M, D)
    segment: int  # frames per move segment
    schedule: np.ndarray  # (S,) move index per segment
    fade: int  # frames of cross-fade at each segment start


@dataclass(frozen=True)
class Walk:
    """Where the dancer's feet are: keyframes of his x (fractions of the frame width; below 0 or above 1
    he is partly or wholly out of the frame), eased between; he dances in place where two agree."""

    times: np.ndarray  # (K,) frames, increasing, the first 0
    xs: np.ndarray  # (K,)


@dataclass(frozen=True)
class VideoSpec:
    """Everything that determines one video."""

    body: Body
    studio: Studio
    dance: Dance
    walk: Walk
    n_frames: int
    frame_size: tuple  # (H, W)


def _colour(rng, low, high):
    return tuple(int(c) for c in rng.integers(low, high + 1, size=3))


def _hsv_to_rgb(h, s, v):
    k = (np.array([5.0, 3.0, 1.0]) + h * 6.0) % 6.0
    rgb = v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return tuple(int(c) for c in np.rint(rgb * 255.0))


def _proportions(rng):
    scale = rng.uniform(0.92, 1.08, size=10)
    return dict(head_r=0.065 * scale[0], neck=0.035 * scale[1], torso=0.30 * scale[2], shoulder=0.11 * scale[3],
                hip=0.065 * scale[4], upper_arm=0.17 * scale[5], forearm=0.16 * scale[6],
                thigh=0.245 * scale[7], shin=0.235 * scale[8], foot=0.07 * scale[9])


def course_body(rng, frame_h):
    """The course's dancer: a blue-grey jacket with long sleeves, dark jeans and shoes, dark hair."""
    jacket = (72, 84, 104)
    return Body(height=frame_h * 0.83, **_proportions(rng), skin=(206, 168, 140), hair=(32, 28, 28),
                shirt=jacket, sleeve=jacket, trousers=(38, 42, 54), shin_colour=(38, 42, 54), shoes=(28, 28, 30))


def random_body(rng, frame_h):
    """Any dancer: skin, hair, shirt (long or short sleeves), trousers or shorts, shoes."""
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))]
    shirt = _hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.2, 0.8), rng.uniform(0.35, 0.95))
    trousers = _hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.0, 0.6), rng.uniform(0.1, 0.6))
    return Body(height=frame_h * rng.uniform(0.70, 0.82), **_proportions(rng), skin=skin,
                hair=_colour(rng, 10, 90), shirt=shirt, sleeve=shirt if rng.uniform() < 0.6 else skin,
                trousers=trousers, shin_colour=trousers if rng.uniform() < 0.8 else skin,
                shoes=_colour(rng, 15, 70))


def course_studio():
    """The course's studio: light grey, a lighter floor, three lamps on the upper wall."""
    return Studio(wall=(146.0, 144.0, 142.0), floor=(160.0, 158.0, 156.0), horizon=0.62,
                  lamps=(0.2, 0.5, 0.8), lamp_gain=0.14, vignette=0.15, floor_y=0.89)


def random_studio(rng):
    """Any studio: a grey with a tint, its floor lighter or darker, 0-3 lamps."""
    grey = rng.uniform(140, 215)
    tint = rng.uniform(-8, 8, size=3)
    floor_gain = rng.uniform(0.92, 1.12)
    return Studio(wall=tuple(float(c) for c in grey + tint),
                  floor=tuple(float(c) for c in np.clip((grey + tint) * floor_gain, 0, 255)),
                  horizon=rng.uniform(0.50, 0.68), lamps=tuple(rng.uniform(0.1, 0.9, size=rng.integers(4))),
                  lamp_gain=rng.uniform(0.0, 0.18), vignette=rng.uniform(0.0, 0.5), floor_y=rng.uniform(0.84, 0.92))


def _sample_move(rng, m, base, amp, harmonic, phase):
    """Move ``m``'s sinusoids, written into the (M, D) arrays: arms, elbows, legs, knees, lean, tilt,
    sway; a share of moves crouch or lunge, another turns towards profile."""
    base[m, 0:2] = rng.uniform(0.1, 1.0)
    amp[m, 0:2] = rng.uniform(0.2, 1.3)
    harmonic[m, 0:2] = rng.choice([0.5, 1.0, 1.0])
    coupling = rng.integers(3)  # arms together, alternating, or independent
    if coupling == 0:
        phase[m, 1] = phase[m, 0]
    elif coupling == 1:
        phase[m, 1] = phase[m, 0] + math.pi
    base[m, 2:4] = rng.uniform(0.1, 1.3, size=2)
    amp[m, 2:4] = rng.uniform(0.0, 0.8, size=2)
    harmonic[m, 2:4] = rng.choice([1.0, 2.0])
    base[m, 4:6] = rng.uniform(0.02, 0.3)
    amp[m, 4:6] = rng.uniform(0.0, 0.18)
    base[m, 6:8] = rng.uniform(0.0, 0.25)
    amp[m, 6:8] = rng.uniform(0.0, 0.45)
    harmonic[m, 4:8] = rng.choice([1.0, 2.0])
    amp[m, 8] = rng.uniform(0.0, 0.12)
    amp[m, 9] = rng.uniform(0.0, 0.25)
    amp[m, 10] = rng.uniform(0.0, 0.06)
    harmonic[m, 8:11] = rng.choice([0.5, 1.0])
    if rng.uniform() < LOW_MOVE_SHARE:
        base[m, CROUCH] = rng.uniform(0.5, 0.9)
        amp[m, CROUCH] = rng.uniform(0.0, 0.15)
        if rng.uniform() < 0.5:  # a lunge: one leg far out to the side, the body low over the other
            base[m, 4 + rng.integers(2)] = rng.uniform(0.7, 1.1)
            amp[m, 4:6] = rng.uniform(0.0, 0.08)
    if rng.uniform() < TURNED_MOVE_SHARE:
        base[m, TURN] = rng.uniform(0.6, 1.0)


def sample_dance(rng, n_frames):
    """3-5 moves, a tempo of one beat per 14-40 frames, a move per 4 or 8 beats in a random order."""
    n_moves = int(rng.integers(3, 6))
    d = len(DOFS)
    base, amp, harmonic = np.zeros((n_moves, d)), np.zeros((n_moves, d)), np.ones((n_moves, d))
    phase = rng.uniform(0, 2 * math.pi, size=(n_moves, d))
    for m in range(n_moves):
        _sample_move(rng, m, base, amp, harmonic, phase)
    beat = 1.0 / rng.uniform(14, 40)
    segment = int(round(rng.choice([4, 8]) / beat))
    return Dance(beat=beat, base=base, amp=amp, harmonic=harmonic, phase=phase, segment=segment,
                 schedule=rng.integers(n_moves, size=n_frames // segment + 1), fade=int(round(1.0 / beat)))


def _walk_target(rng):
    """Where the next walk ends: mostly inside the frame, sometimes at an edge (cut by it), now and then
    beyond it (out of the frame)."""
    if rng.uniform() >= EDGE_TARGET_SHARE:
        return rng.uniform(0.12, 0.88)
    beyond = rng.uniform() < EXIT_TARGET_SHARE
    inset = rng.uniform(-0.12, -0.05) if beyond else rng.uniform(-0.03, 0.09)
    return inset if rng.uniform() < 0.5 else 1.0 - inset


def sample_walk(rng, n_frames):
    """Dance in place for 40-160 frames, walk to the next target at 0.4-1% of the width per frame, and
    again; frame 0 has the whole dancer in the frame, and one who walked out comes back at once."""
    times, xs = [0.0], [rng.uniform(0.15, 0.85)]
    while times[-1] < n_frames:
        outside = not 0.0 < xs[-1] < 1.0
        times.append(times[-1] + (rng.uniform(5, 30) if outside else rng.uniform(*DWELL_FRAMES)))
        xs.append(xs[-1])
        target = rng.uniform(0.12, 0.88) if outside else _walk_target(rng)
        times.append(times[-1] + max(abs(target - xs[-1]) / rng.uniform(*WALK_SPEED), 10.0))
        xs.append(target)
    return Walk(times=np.array(times), xs=np.array(xs))


def stage_x(walk, t):
    """The dancer's x at frames ``t`` (N,), and how much he is walking there (0 dancing in place, 1
    walking; ramped over the first and last WALK_RAMP frames of a walk so the gait blends in smoothly)."""
    t = np.asarray(t, dtype=np.float64)
    k = np.clip(np.searchsorted(walk.times, t, side="right") - 1, 0, len(walk.times) - 2)
    start, end = walk.times[k], walk.times[k + 1]
    u = np.clip((t - start) / (end - start), 0.0, 1.0)
    dx = walk.xs[k + 1] - walk.xs[k]
    x = walk.xs[k] + dx * u * u * (3.0 - 2.0 * u)  # eased: he starts and stops smoothly
    ramp = np.clip(np.minimum(t - start, end - t) / WALK_RAMP, 0.0, 1.0)
    return x, np.where(dx != 0.0, ramp, 0.0)


def sample_video(seed, split, index, n_frames, frame_size, dancers="one"):
    """Sample the spec of video ``index`` of ``split`` ("train", "val", "test") for a dataset ``seed``.

    Videos of different splits or indices come from independent generators, so val and test videos are
    never in train. With ``dancers="one"`` the dancer and studio come from the dataset's own generator
    (seed 0: the course's look), shared by all its videos; with "per_video", from the video's.
    """
    if dancers not in DANCER_MODES:
        raise ValueError(f"dancers must be one of {DANCER_MODES}, got {dancers!r}")
    rng = np.random.default_rng([seed, SPLIT_CODES[split], index])
    if dancers == "one":
        shared = np.random.default_rng([seed, DATASET_CODE])
        body = course_body(shared, frame_size[0]) if seed == 0 else random_body(shared, frame_size[0])
        studio = course_studio() if seed == 0 else random_studio(shared)
    else:
        body, studio = random_body(rng, frame_size[0]), random_studio(rng)
    return VideoSpec(body=body, studio=studio, dance=sample_dance(rng, n_frames), walk=sample_walk(rng, n_frames),
                     n_frames=n_frames, frame_size=tuple(frame_size))


def dof_trajectory(dance, t):
    """The dance's DOF values at frames ``t`` (int array (N,)) -> (N, D), clipped to the DOF limits."""
    t = np.asarray(t, dtype=np.float64)
    seg = (t // dance.segment).astype(int)
    current = _move_values(dance, dance.schedule[seg], t)
    previous = _move_values(dance, dance.schedule[np.maximum(seg - 1, 0)], t)
    into = (t - seg * dance.segment) / max(dance.fade, 1)
    w = np.clip(into, 0.0, 1.0)
    w = np.where(seg == 0, 1.0, w * w * (3.0 - 2.0 * w))[:, None]  # smoothstep cross-fade
    return np.clip(w * current + (1.0 - w) * previous, DOF_LOW, DOF_HIGH)


def _move_values(dance, moves, t):
    angle = 2 * math.pi * dance.harmonic[moves] * dance.beat * t[:, None] + dance.phase[moves]
    return dance.base[moves] + dance.amp[moves] * np.sin(angle)


def pose_trajectory(spec, t):
    """The DOFs at frames ``t`` (N,) -> (N, D): the dance, blended into a walking gait (legs striding,
    arms swinging low, turned to profile, upright) as he walks."""
    dofs = dof_trajectory(spec.dance, t)
    x, walking = stage_x(spec.walk, t)
    walking = walking[:, None]
    stride = np.sin(2 * math.pi * x / STRIDE)
    gait = np.zeros_like(dofs)
    gait[:, LEGS] = 0.35 * stride[:, None]
    gait[:, KNEES] = 0.3 * np.abs(stride)[:, None]
    gait[:, ARMS] = 0.15 + 0.25 * np.stack([stride, -stride], axis=1)
    gait[:, 2:4] = 0.3
    gait[:, TURN] = 1.0
    return np.clip(walking * gait + (1.0 - walking) * dofs, DOF_LOW, DOF_HIGH)


def _direction(theta):
    """Unit vector at angle ``theta`` from straight down, turning towards +x (image coordinates)."""
    return np.array([math.sin(theta), math.cos(theta)])


def _limbs(j, b, h, dofs, across):
    """Shoulders, arms, hips and legs of both sides into ``j`` (joints relative to the mid-hip)."""
    arm, elbow, leg, knee = dofs[ARMS], dofs[2:4], dofs[LEGS], dofs[KNEES]
    lean, crouch = dofs[8], dofs[CROUCH]
    # A crouch bends the knees towards the camera: the legs look shorter and the knees turn outward.
    fold = 1.0 - 0.45 * crouch
    for side, sign in ((0, -1.0), (1, 1.0)):  # figure's right is the image's left (it faces us)
        shoulder, elbow_j, wrist, hip, knee_j, ankle, big, small, heel = (
            (R_SHOULDER, R_ELBOW, R_WRIST, R_HIP, R_KNEE, R_ANKLE, R_BIG_TOE, R_SMALL_TOE, R_HEEL),
            (L_SHOULDER, L_ELBOW, L_WRIST, L_HIP, L_KNEE, L_ANKLE, L_BIG_TOE, L_SMALL_TOE, L_HEEL))[side]
        j[shoulder] = j[NECK] + sign * b.shoulder * h * across
        j[elbow_j] = j[shoulder] + b.upper_arm * h * _direction(lean + sign * arm[side])
        j[wrist] = j[elbow_j] + b.forearm * h * _direction(lean + sign * (arm[side] + elbow[side]))
        j[hip] = sign * b.hip * h * across
        fore = math.cos(0.5 * knee[side]) * fold
        spread = sign * (leg[side] + 0.35 * knee[side] + 0.6 * crouch)
        j[knee_j] = j[hip] + b.thigh * h * fore * _direction(spread)
        j[ankle] = j[knee_j] + b.shin * h * fore * _direction(sign * (leg[side] - 0.25 * knee[side]))
        j[big] = j[ankle] + b.foot * h * _direction(sign * 1.2)
        j[small] = j[ankle] + 0.8 * b.foot * h * _direction(sign * 1.45)
        j[heel] = j[ankle] + 0.35 * b.foot * h * _direction(-sign * 0.3)


def _head(j, b, h, lean, tilt, narrow):
    """Nose, eyes and ears into ``j``; ``narrow`` (1 frontal, small in profile) scales the face's width."""
    head_up = -_direction(lean + tilt)
    head_across = narrow * np.array([math.cos(lean + tilt), -math.sin(lean + tilt)])
    head = j[NECK] + (b.neck + b.head_r) * h * head_up
    j[NOSE] = head - 0.15 * b.head_r * h * head_up
    j[R_EYE] = head + b.head_r * h * (0.2 * head_up - 0.35 * head_across)
    j[L_EYE] = head + b.head_r * h * (0.2 * head_up + 0.35 * head_across)
    j[R_EAR] = head - 0.9 * b.head_r * h * head_across
    j[L_EAR] = head + 0.9 * b.head_r * h * head_across


def pose_joints(spec, t, dofs):
    """Joint positions (25, 2) as (x, y) pixels of the output frame for frame ``t`` with ``dofs`` (D,)."""
    b, studio = spec.body, spec.studio
    frame_h, frame_w = spec.frame_size
    h = b.height
    lean = dofs[8]
    narrow = 1.0 - 0.7 * dofs[TURN]  # turned towards profile, shoulders and hips look narrower
    j = np.zeros((N_JOINTS, 2))
    across = narrow * np.array([math.cos(lean), -math.sin(lean)])
    j[NECK] = -b.torso * h * _direction(lean)
    _limbs(j, b, h, dofs, across)
    _head(j, b, h, lean, dofs[9], narrow)
    x, _ = stage_x(spec.walk, [t])
    j[:, 0] += x[0] * frame_w + dofs[10] * h
    j[:, 1] += studio.floor_y * frame_h - j[[L_BIG_TOE, L_HEEL, R_BIG_TOE, R_HEEL], 1].max()
    return j


def head_centre(joints):
    """Centre (2,) of the head ellipse: the ears' midpoint."""
    return 0.5 * (joints[R_EAR] + joints[L_EAR])


def render_background(spec):
    """The empty studio at SUPERSAMPLE x the frame size: uint8 (H*S, W*S, 3)."""
    s = spec.studio
    frame_h, frame_w = spec.frame_size
    y, x = np.mgrid[0:frame_h * SUPERSAMPLE, 0:frame_w * SUPERSAMPLE].astype(np.float64)
    y = (y + 0.5) / (frame_h * SUPERSAMPLE)
    x = (x + 0.5) / (frame_w * SUPERSAMPLE)
    floor_w = np.clip((y - s.horizon) / 0.06 + 0.5, 0.0, 1.0)[..., None]  # soft cyclorama bend
    light = 1.0 - s.vignette * (x - 0.5) ** 2
    for lamp in s.lamps:
        light += s.lamp_gain * np.exp(-((x - lamp) / 0.09) ** 2 - (y / 0.22) ** 2)
    floor_light = 1.0 + 0.12 * np.clip((y - s.horizon) / (1.0 - s.horizon), 0.0, 1.0)
    wall = np.array(s.wall) * light[..., None]
    floor = np.array(s.floor) * (light * floor_light)[..., None]
    return np.clip(np.rint(floor_w * floor + (1.0 - floor_w) * wall), 0, 255).astype(np.uint8)


def _segment(draw, p, q, colour, width):
    """A limb: a thick segment from ``p`` to ``q`` with round ends (supersampled coordinates)."""
    draw.line([tuple(p), tuple(q)], fill=colour, width=max(1, int(round(width))))
    r = width / 2.0
    for c in (p, q):
        draw.ellipse([c[0] - r, c[1] - r, c[0] + r, c[1] + r], fill=colour)


def _shade(colour, factor):
    return tuple(int(round(min(255.0, c * factor))) for c in colour)


def _draw_legs(draw, b, j, unit):
    for side, near in ((0, 0.88), (1, 1.0)):  # the image-left limbs slightly darker: a key light
        hip, knee, ankle, toe, heel = ((R_HIP, R_KNEE, R_ANKLE, R_BIG_TOE, R_HEEL),
                                       (L_HIP, L_KNEE, L_ANKLE, L_BIG_TOE, L_HEEL))[side]
        _segment(draw, j[heel], j[toe], _shade(b.shoes, near), 0.05 * BUILD * unit)
        _segment(draw, j[knee], j[ankle], _shade(b.shin_colour, near), 0.065 * BUILD * unit)
        _segment(draw, j[hip], j[knee], _shade(b.trousers, near), 0.085 * BUILD * unit)
    _segment(draw, j[R_HIP], j[L_HIP], b.trousers, 0.085 * BUILD * unit)


def _draw_arms(draw, b, j, unit):
    for side, near in ((0, 0.88), (1, 1.0)):
        shoulder, elbow, wrist = ((R_SHOULDER, R_ELBOW, R_WRIST), (L_SHOULDER, L_ELBOW, L_WRIST))[side]
        _segment(draw, j[shoulder], j[elbow], _shade(b.shirt, near), 0.06 * BUILD * unit)
        _segment(draw, j[elbow], j[wrist], _shade(b.sleeve, near), 0.048 * BUILD * unit)
        forearm = j[wrist] - j[elbow]
        hand = j[wrist] + 0.045 * unit * forearm / max(np.linalg.norm(forearm), 1e-6)
        _segment(draw, j[wrist], hand, _shade(b.skin, near), 0.05 * BUILD * unit)


def _draw_torso_and_head(draw, b, j, head, unit):
    waist = 0.35 * (j[L_HIP] - j[R_HIP])
    torso = [j[R_SHOULDER], j[L_SHOULDER], j[L_HIP] + waist * 0.3, j[R_HIP] - waist * 0.3]
    chest = max(abs(j[L_SHOULDER, 0] - j[R_SHOULDER, 0]), 0.09 * unit)  # a body has depth in profile
    middle = 0.5 * (j[L_SHOULDER] + j[R_SHOULDER]), 0.5 * (j[L_HIP] + j[R_HIP])
    _segment(draw, middle[0], middle[1], b.shirt, chest)
    draw.polygon([tuple(p) for p in torso], fill=b.shirt)
    _segment(draw, j[NECK], 0.5 * (j[NECK] + head), _shade(b.skin, 0.9), 0.05 * unit)
    r = b.head_r * unit
    draw.ellipse([head[0] - 0.85 * r, head[1] - r, head[0] + 0.85 * r, head[1] + r], fill=b.skin)
    up = j[NOSE] - head
    facing = math.degrees(math.atan2(-up[1], -up[0]))  # direction of the crown, PIL's clockwise degrees
    draw.chord([head[0] - 0.87 * r, head[1] - 1.02 * r, head[0] + 0.87 * r, head[1] + 1.02 * r],
               facing - 80, facing + 80, fill=b.hair)


def render_person(spec, joints, background):
    """The person frame: the figure posed at ``joints`` (25, 2) over ``background`` -> RGB image (W, H)."""
    b, s = spec.body, spec.studio
    img = Image.fromarray(background)
    draw = ImageDraw.Draw(img)
    j = joints * SUPERSAMPLE
    unit = b.height * SUPERSAMPLE
    floor_y = s.floor_y * spec.frame_size[0] * SUPERSAMPLE
    feet_x = (j[L_ANKLE, 0], j[R_ANKLE, 0])
    rx = 0.5 * abs(feet_x[0] - feet_x[1]) + 0.1 * unit
    cx = 0.5 * (feet_x[0] + feet_x[1])
    draw.ellipse([cx - rx, floor_y - 0.025 * unit, cx + rx, floor_y + 0.025 * unit], fill=_shade(s.floor, 0.78))
    _draw_legs(draw, b, j, unit)
    _draw_torso_and_head(draw, b, j, head_centre(joints) * SUPERSAMPLE, unit)
    _draw_arms(draw, b, j, unit)
    return img.reduce(SUPERSAMPLE)


def render_label(joints, frame_size):
    """The OpenPose-style label: BODY_25 limbs and joints of ``joints`` (25, 2) on white -> RGB image."""
    frame_h, frame_w = frame_size
    img = Image.new("RGB", (frame_w * SUPERSAMPLE, frame_h * SUPERSAMPLE), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    j = joints * SUPERSAMPLE
    width = LABEL_LIMB_WIDTH * frame_h * SUPERSAMPLE
    for a, c in LIMBS:
        colour = tuple(int(round(v + LABEL_LIMB_WHITENESS * (255 - v))) for v in JOINT_COLOURS[c])
        _segment(draw, j[a], j[c], colour, width)
    r = LABEL_JOINT_RADIUS * frame_h * SUPERSAMPLE
    for k in range(N_JOINTS):
        x, y = j[k]
        draw.ellipse([x - r, y - r, x + r, y + r], fill=JOINT_COLOURS[k])
    return img.reduce(SUPERSAMPLE)


def render_frames(spec, t):
    """Person and label images of frames ``t`` (sequence of ints) of the video ``spec``."""
    background = render_background(spec)
    dofs = pose_trajectory(spec, np.asarray(t))
    out = []
    for k, tk in enumerate(t):
        joints = pose_joints(spec, tk, dofs[k])
        out.append((render_person(spec, joints, background), render_label(joints, spec.frame_size)))
    return out
