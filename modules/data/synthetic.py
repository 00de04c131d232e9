"""Synthetic pose-conditioned dance videos written in the LAB4 folder layout.

Each video is a frontal figure (head, torso, arms, legs, shoes in clothing colours) dancing in a grey
studio; its label video is the same skeleton drawn OpenPose-style (BODY_25 colours) on white. A video is
fully described by a :class:`VideoSpec` sampled from a seeded generator: body proportions and clothes,
background, tempo and a sequence of dance moves (sums of sinusoids of joint angles, cross-faded), plus
a slow walk across the stage. The person frame at time t is a pure function of (spec, pose at t), so the
pose sequence and the first frame determine the video: nothing unexplained (no noise) is drawn.

Layout written by :func:`generate_dataset` (``N`` counts frames from 0, sorted numerically)::

    root/train/train_img/frame<N>.png   root/train/train_label/frame<N>.png   (videos back to back)
    root/val/val_img/frame<N>.png       root/val/val_label/frame<N>.png       (one video)
    root/test/test_img/<v>/frame0.png   root/test/test_label/<v>/frame<N>.png (first frame + all labels)
    root/test/test_img_gt/<v>/frame<N>.png   (extra: the test videos' ground truth, for scoring)
    root/.lab4_synthetic.json                (written last: the generation parameters)

Frames are RGB PNGs of ``frame_size`` = (H, W) pixels; the default (128, 256) keeps generation fast and
still downsamples cleanly to the model's 32x64 (the real dataset's frames are 512x1024).
"""

import json
import math
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from ..config import SYNTHETIC_DEFAULTS
from ..console import note
from ..errors import UserInputError
from ..io import write_json
from .partial import partial_folder

FORMAT_VERSION = 1
MARKER_NAME = ".lab4_synthetic.json"
SUPERSAMPLE = 2  # draw at 2x and average down: anti-aliased edges at the cost of 4x pixels
PNG_COMPRESS_LEVEL = 1
FRAMES_PER_JOB = 48
PARALLEL_MIN_FRAMES = 500  # smaller datasets render in-process: starting workers would cost more
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}

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
LABEL_LIMB_WIDTH = 0.012  # fractions of the frame height, as in the real 512-pixel-high labels
LABEL_JOINT_RADIUS = 0.011
LABEL_LIMB_WHITENESS = 0.35  # OpenPose blends limbs into the background: pastel lines, saturated dots

SKIN_TONES = ((255, 219, 172), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36),
              (92, 58, 32))

# Degrees of freedom of a pose (angles in radians, sway in figure heights), with their limits.
DOFS = ("arm_r", "arm_l", "elbow_r", "elbow_l", "leg_r", "leg_l", "knee_r", "knee_l", "lean", "tilt",
        "sway")
DOF_LOW = np.array([0.0, 0.0, 0.0, 0.0, -0.12, -0.12, 0.0, 0.0, -0.3, -0.45, -0.15])
DOF_HIGH = np.array([2.9, 2.9, 2.4, 2.4, 0.6, 0.6, 1.3, 1.3, 0.3, 0.45, 0.15])


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
class Scene:
    """A studio: wall and floor colours, horizon height, spotlight; where the feet touch the floor."""

    wall: tuple
    floor: tuple
    horizon: float  # fraction of the frame height
    spot_x: float  # fraction of the frame width
    spot_gain: float
    vignette: float
    floor_y: float  # fraction of the frame height where the soles rest
    stage_x: float  # centre of the walk, fraction of the frame width
    walk_amp: float  # fraction of the frame width
    walk_period: float  # frames
    walk_phase: float


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
class VideoSpec:
    """Everything that determines one video."""

    body: Body
    scene: Scene
    dance: Dance
    n_frames: int
    frame_size: tuple  # (H, W)


def _colour(rng, low, high):
    return tuple(int(c) for c in rng.integers(low, high + 1, size=3))


def _sample_body(rng, frame_h):
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))]
    shirt = tuple(int(c) for c in _hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.2, 0.8),
                                                rng.uniform(0.35, 0.95)))
    trousers = tuple(int(c) for c in _hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.0, 0.6),
                                                   rng.uniform(0.1, 0.6)))
    scale = rng.uniform(0.92, 1.08, size=10)
    return Body(
        height=frame_h * rng.uniform(0.74, 0.88),
        head_r=0.065 * scale[0], neck=0.035 * scale[1], torso=0.30 * scale[2], shoulder=0.11 * scale[3],
        hip=0.065 * scale[4], upper_arm=0.17 * scale[5], forearm=0.16 * scale[6], thigh=0.245 * scale[7],
        shin=0.235 * scale[8], foot=0.07 * scale[9],
        skin=skin, hair=_colour(rng, 10, 90), shirt=shirt,
        sleeve=shirt if rng.uniform() < 0.6 else skin,
        trousers=trousers, shin_colour=trousers if rng.uniform() < 0.8 else skin,
        shoes=_colour(rng, 15, 70),
    )


def _hsv_to_rgb(h, s, v):
    k = (np.array([5.0, 3.0, 1.0]) + h * 6.0) % 6.0
    rgb = v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return np.rint(rgb * 255.0)


def _sample_scene(rng):
    grey = rng.uniform(150, 215)
    tint = rng.uniform(-8, 8, size=3)
    floor_gain = rng.uniform(0.92, 1.12)
    return Scene(
        wall=tuple(float(c) for c in grey + tint),
        floor=tuple(float(c) for c in np.clip((grey + tint) * floor_gain, 0, 255)),
        horizon=rng.uniform(0.50, 0.68), spot_x=rng.uniform(0.25, 0.75), spot_gain=rng.uniform(0.0, 0.18),
        vignette=rng.uniform(0.0, 0.5), floor_y=rng.uniform(0.88, 0.95),
        stage_x=rng.uniform(0.40, 0.60), walk_amp=rng.uniform(0.03, 0.16),
        walk_period=rng.uniform(220, 520), walk_phase=rng.uniform(0, 2 * math.pi),
    )


def _sample_dance(rng, n_frames):
    n_moves = int(rng.integers(3, 6))
    d = len(DOFS)
    base = np.zeros((n_moves, d))
    amp = np.zeros((n_moves, d))
    harmonic = np.ones((n_moves, d))
    phase = rng.uniform(0, 2 * math.pi, size=(n_moves, d))
    for m in range(n_moves):
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
    beat = 1.0 / rng.uniform(14, 40)
    segment = int(round(rng.choice([4, 8]) / beat))
    n_segments = n_frames // segment + 1
    return Dance(beat=beat, base=base, amp=amp, harmonic=harmonic, phase=phase, segment=segment,
                 schedule=rng.integers(n_moves, size=n_segments), fade=int(round(1.0 / beat)))


def sample_video(seed, split, index, n_frames, frame_size):
    """Sample the spec of video ``index`` of ``split`` ("train", "val", "test") for a dataset ``seed``.

    Videos of different splits or indices come from independent generators, so val and test videos are
    never in train, yet all are drawn from the same distribution.
    """
    rng = np.random.default_rng([seed, SPLIT_CODES[split], index])
    return VideoSpec(body=_sample_body(rng, frame_size[0]), scene=_sample_scene(rng),
                     dance=_sample_dance(rng, n_frames), n_frames=n_frames, frame_size=tuple(frame_size))


def dof_trajectory(dance, t):
    """DOF values at frames ``t`` (int array (N,)) -> (N, D), clipped to the DOF limits."""
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


def _direction(theta):
    """Unit vector at angle ``theta`` from straight down, turning towards +x (image coordinates)."""
    return np.array([math.sin(theta), math.cos(theta)])


def pose_joints(spec, t, dofs):
    """Joint positions (25, 2) as (x, y) pixels of the output frame for frame ``t`` with ``dofs`` (D,)."""
    b, s = spec.body, spec.scene
    frame_h, frame_w = spec.frame_size
    h = b.height
    arm, elbow, leg, knee = dofs[0:2], dofs[2:4], dofs[4:6], dofs[6:8]
    lean, tilt, sway = dofs[8], dofs[9], dofs[10]
    j = np.zeros((N_JOINTS, 2))
    up = -_direction(lean)
    across = np.array([math.cos(lean), -math.sin(lean)])
    j[NECK] = b.torso * h * up
    for side, sign in ((0, -1.0), (1, 1.0)):  # figure's right is the image's left (it faces us)
        shoulder, elbow_j, wrist, hip, knee_j, ankle, big, small, heel = (
            (R_SHOULDER, R_ELBOW, R_WRIST, R_HIP, R_KNEE, R_ANKLE, R_BIG_TOE, R_SMALL_TOE, R_HEEL),
            (L_SHOULDER, L_ELBOW, L_WRIST, L_HIP, L_KNEE, L_ANKLE, L_BIG_TOE, L_SMALL_TOE, L_HEEL))[side]
        j[shoulder] = j[NECK] + sign * b.shoulder * h * across
        j[elbow_j] = j[shoulder] + b.upper_arm * h * _direction(lean + sign * arm[side])
        j[wrist] = j[elbow_j] + b.forearm * h * _direction(lean + sign * (arm[side] + elbow[side]))
        j[hip] = sign * b.hip * h * across
        # A knee bending towards the camera foreshortens the leg and turns the knee outward.
        fore = math.cos(0.5 * knee[side])
        j[knee_j] = j[hip] + b.thigh * h * fore * _direction(sign * (leg[side] + 0.35 * knee[side]))
        j[ankle] = j[knee_j] + b.shin * h * fore * _direction(sign * (leg[side] - 0.25 * knee[side]))
        j[big] = j[ankle] + b.foot * h * _direction(sign * 1.2)
        j[small] = j[ankle] + 0.8 * b.foot * h * _direction(sign * 1.45)
        j[heel] = j[ankle] + 0.35 * b.foot * h * _direction(-sign * 0.3)
    head_up = -_direction(lean + tilt)
    head_across = np.array([math.cos(lean + tilt), -math.sin(lean + tilt)])
    head = j[NECK] + (b.neck + b.head_r) * h * head_up
    j[NOSE] = head - 0.15 * b.head_r * h * head_up
    j[R_EYE] = head + b.head_r * h * (0.2 * head_up - 0.35 * head_across)
    j[L_EYE] = head + b.head_r * h * (0.2 * head_up + 0.35 * head_across)
    j[R_EAR] = head - 0.9 * b.head_r * h * head_across
    j[L_EAR] = head + 0.9 * b.head_r * h * head_across
    walk = s.walk_amp * math.sin(2 * math.pi * t / s.walk_period + s.walk_phase)
    j[:, 0] += (s.stage_x + walk) * frame_w + sway * h
    j[:, 1] += s.floor_y * frame_h - j[[L_BIG_TOE, L_HEEL, R_BIG_TOE, R_HEEL], 1].max()
    return j


def head_centre(joints):
    """Centre (2,) of the head ellipse: the ears' midpoint."""
    return 0.5 * (joints[R_EAR] + joints[L_EAR])


def render_background(spec):
    """The empty studio at SUPERSAMPLE x the frame size: uint8 (H*S, W*S, 3)."""
    s = spec.scene
    frame_h, frame_w = spec.frame_size
    y, x = np.mgrid[0:frame_h * SUPERSAMPLE, 0:frame_w * SUPERSAMPLE].astype(np.float64)
    y = (y + 0.5) / (frame_h * SUPERSAMPLE)
    x = (x + 0.5) / (frame_w * SUPERSAMPLE)
    floor_w = np.clip((y - s.horizon) / 0.06 + 0.5, 0.0, 1.0)[..., None]  # soft cyclorama bend
    light = 1.0 + s.spot_gain * np.exp(-((x - s.spot_x) / 0.3) ** 2 - (y / 0.5) ** 2)
    light -= s.vignette * (x - 0.5) ** 2
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


def render_person(spec, joints, background):
    """The person frame: the figure posed at ``joints`` (25, 2) over ``background`` -> RGB image (W, H)."""
    b, s = spec.body, spec.scene
    img = Image.fromarray(background)
    draw = ImageDraw.Draw(img)
    j = joints * SUPERSAMPLE
    unit = b.height * SUPERSAMPLE
    floor_y = s.floor_y * spec.frame_size[0] * SUPERSAMPLE
    feet_x = (j[L_ANKLE, 0], j[R_ANKLE, 0])
    rx = 0.5 * abs(feet_x[0] - feet_x[1]) + 0.1 * unit
    cx = 0.5 * (feet_x[0] + feet_x[1])
    draw.ellipse([cx - rx, floor_y - 0.025 * unit, cx + rx, floor_y + 0.025 * unit],
                 fill=_shade(s.floor, 0.78))
    for side, near in ((0, 0.88), (1, 1.0)):  # the image-left limbs slightly darker: a key light
        hip, knee, ankle, toe, heel = ((R_HIP, R_KNEE, R_ANKLE, R_BIG_TOE, R_HEEL),
                                       (L_HIP, L_KNEE, L_ANKLE, L_BIG_TOE, L_HEEL))[side]
        _segment(draw, j[heel], j[toe], _shade(b.shoes, near), 0.05 * unit)
        _segment(draw, j[knee], j[ankle], _shade(b.shin_colour, near), 0.065 * unit)
        _segment(draw, j[hip], j[knee], _shade(b.trousers, near), 0.085 * unit)
    _segment(draw, j[R_HIP], j[L_HIP], b.trousers, 0.085 * unit)
    waist = 0.35 * (j[L_HIP] - j[R_HIP])
    torso = [j[R_SHOULDER], j[L_SHOULDER], j[L_HIP] + waist * 0.3, j[R_HIP] - waist * 0.3]
    draw.polygon([tuple(p) for p in torso], fill=b.shirt)
    head = head_centre(joints) * SUPERSAMPLE
    _segment(draw, j[NECK], 0.5 * (j[NECK] + head), _shade(b.skin, 0.9), 0.05 * unit)
    r = b.head_r * unit
    draw.ellipse([head[0] - 0.85 * r, head[1] - r, head[0] + 0.85 * r, head[1] + r], fill=b.skin)
    up = j[NOSE] - head
    facing = math.degrees(math.atan2(-up[1], -up[0]))  # direction of the crown, PIL's clockwise degrees
    draw.chord([head[0] - 0.87 * r, head[1] - 1.02 * r, head[0] + 0.87 * r, head[1] + 1.02 * r],
               facing - 80, facing + 80, fill=b.hair)
    for side, near in ((0, 0.88), (1, 1.0)):
        shoulder, elbow, wrist = ((R_SHOULDER, R_ELBOW, R_WRIST), (L_SHOULDER, L_ELBOW, L_WRIST))[side]
        _segment(draw, j[shoulder], j[elbow], _shade(b.shirt, near), 0.06 * unit)
        _segment(draw, j[elbow], j[wrist], _shade(b.sleeve, near), 0.048 * unit)
        forearm = j[wrist] - j[elbow]
        hand = j[wrist] + 0.045 * unit * forearm / max(np.linalg.norm(forearm), 1e-6)
        _segment(draw, j[wrist], hand, _shade(b.skin, near), 0.05 * unit)
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
    dofs = dof_trajectory(spec.dance, np.asarray(t))
    out = []
    for k, tk in enumerate(t):
        joints = pose_joints(spec, tk, dofs[k])
        out.append((render_person(spec, joints, background), render_label(joints, spec.frame_size)))
    return out


@dataclass(frozen=True)
class _Job:
    """Frames [t0, t1) of one video: person frames to ``img_dir`` (or only frame 0), labels to
    ``label_dir``, file numbers shifted by ``name_offset``."""

    spec: VideoSpec
    t0: int
    t1: int
    name_offset: int
    img_dirs: tuple  # folders that receive every person frame
    label_dir: str
    first_frame_dir: str  # folder that receives frame 0 only ("" for none)


def _run_job(job):
    for t, (person, label) in zip(range(job.t0, job.t1), render_frames(job.spec, range(job.t0, job.t1))):
        name = f"frame{t + job.name_offset}.png"
        for folder in job.img_dirs:
            person.save(Path(folder) / name, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        if job.first_frame_dir and t == 0:
            person.save(Path(job.first_frame_dir) / name, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        label.save(Path(job.label_dir) / name, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return job.t1 - job.t0


def _video_jobs(spec, name_offset, img_dirs, label_dir, first_frame_dir=""):
    return [_Job(spec, t0, min(t0 + FRAMES_PER_JOB, spec.n_frames), name_offset,
                 tuple(str(d) for d in img_dirs), str(label_dir), str(first_frame_dir))
            for t0 in range(0, spec.n_frames, FRAMES_PER_JOB)]


def _all_jobs(root, params):
    size = params["frame_size"]
    jobs = []
    train_img, train_label = root / "train" / "train_img", root / "train" / "train_label"
    for i in range(params["n_train_videos"]):
        spec = sample_video(params["seed"], "train", i, params["train_video_len"], size)
        jobs += _video_jobs(spec, i * params["train_video_len"], [train_img], train_label)
    spec = sample_video(params["seed"], "val", 0, params["val_len"], size)
    jobs += _video_jobs(spec, 0, [root / "val" / "val_img"], root / "val" / "val_label")
    for v in range(params["n_test"]):
        spec = sample_video(params["seed"], "test", v, params["test_len"], size)
        jobs += _video_jobs(spec, 0, [root / "test" / "test_img_gt" / str(v)],
                            root / "test" / "test_label" / str(v), root / "test" / "test_img" / str(v))
    return jobs


def _default_workers():
    return max(1, min(2, os.cpu_count() or 1))


def generation_params(**overrides):
    """The parameters that determine a dataset (SYNTHETIC_DEFAULTS, with ``overrides``), checked and
    normalised, as stored in its marker file."""
    unknown = set(overrides) - set(SYNTHETIC_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown synthetic dataset parameters: {sorted(unknown)}")
    given = {**SYNTHETIC_DEFAULTS, **overrides}
    params = {"format_version": FORMAT_VERSION, **{k: int(v) for k, v in given.items() if k != "frame_size"},
              "frame_size": [int(given["frame_size"][0]), int(given["frame_size"][1])]}
    if min(params["frame_size"]) < 8:
        raise UserInputError(f"frame size {given['frame_size']} is too small (at least 8x8 pixels)")
    for key in ("n_train_videos", "train_video_len", "val_len", "n_test", "test_len"):
        if params[key] < 1:
            raise UserInputError(f"{key} must be at least 1, got {params[key]}")
    return params


def generate_dataset(root, *, progress=True, workers=None, **params):
    """Write a synthetic dataset in the LAB4 layout to ``root`` and return ``root`` as a Path.

    ``params`` are those of :func:`generation_params` (seed, frame_size=(H, W), n_train_videos,
    train_video_len, val_len, n_test, test_len). The same parameters give byte-identical files. Frames
    and, last, the marker file are written to the sibling folder ``<root>.partial``, which is renamed to
    ``root`` when complete: an interrupted run leaves no half dataset at ``root``. ``root`` must not
    exist, be empty, or be a synthetic dataset written before (it is replaced). ``workers`` processes
    render in parallel (default: up to 2, or 1 for datasets under 500 frames).
    """
    root = Path(root)
    params = generation_params(**params)
    _check_replaceable(root)
    tmp = partial_folder(root)
    jobs = _all_jobs(tmp, params)
    for job in jobs:
        for folder in (*job.img_dirs, job.label_dir, job.first_frame_dir):
            if folder:
                Path(folder).mkdir(parents=True, exist_ok=True)
    total = sum(job.t1 - job.t0 for job in jobs)
    workers = workers or (_default_workers() if total >= PARALLEL_MIN_FRAMES else 1)
    if progress:
        note(f"generating the synthetic dataset: {total} frames into {root} (once, {workers} processes)")
    with tqdm(total=total, desc=f"generating {root}", unit="frame", disable=None if progress else True) as bar:
        if workers == 1:
            for job in jobs:
                bar.update(_run_job(job))
        else:
            method = "fork" if "fork" in get_all_start_methods() else None
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context(method)) as pool:
                for done in as_completed([pool.submit(_run_job, job) for job in jobs]):
                    bar.update(done.result())
    write_json(tmp / MARKER_NAME, params)
    if root.exists():
        shutil.rmtree(root)
    tmp.rename(root)
    return root


def _check_replaceable(root):
    if root.exists() and not root.is_dir():
        raise UserInputError(f"{root} is a file, not a folder: pass a folder for the dataset (--out)")
    if root.exists() and any(root.iterdir()) and not (root / MARKER_NAME).is_file():
        raise UserInputError(f"{root} exists and is not a synthetic dataset written by this repo "
                             f"(no {MARKER_NAME}); choose another folder or remove it")


def read_marker(root):
    """The generation parameters stored in ``root``'s marker file, or None if there is none."""
    marker = Path(root) / MARKER_NAME
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text())
    except (OSError, ValueError):
        return None


def default_dataset_root():
    """``data/synthetic`` under the repository root: where the default dataset lives."""
    return Path(__file__).resolve().parents[2] / "data" / "synthetic"


def ensure_synthetic_dataset(root=None, *, progress=True, workers=None, **params):
    """Return the synthetic dataset at ``root`` (default :func:`default_dataset_root`), generating it
    first if it is missing, incomplete or was made with other parameters."""
    root = Path(root) if root is not None else default_dataset_root()
    if read_marker(root) != generation_params(**params):
        generate_dataset(root, progress=progress, workers=workers, **params)
    return root
