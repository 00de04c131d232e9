"""Shared test settings: one thread, the tiny widths and the tiny synthetic datasets."""
import json

import pytest
import torch

from modules.data.synthetic import generate_dataset

# Widths small enough for a CPU test (the template's are 128/32/12/192); N_dim >= 4 is required.
TINY_WIDTHS = dict(F_dim=16, L_dim=8, N_dim=4, D_out_dim=16)
TINY_WIDTH_FLAGS = [arg for key, value in TINY_WIDTHS.items() for arg in (f"--{key}", str(value))]
# The tiny synthetic dataset: 2 training videos of 24 frames, a 20-frame validation video, one test video.
TINY_DATASET = dict(frame_size=(32, 64), n_train_videos=2, train_video_len=24, val_len=20, n_test=1, test_len=20)
# What the data tests change: shorter videos, two test videos.
DATA_TEST_SPLITS = dict(train_video_len=20, val_len=24, n_test=2, test_len=10)


@pytest.fixture(autouse=True)
def one_thread():
    """The tests use tiny models, which gain nothing from a second thread; on a busy 2-core machine a
    second OpenMP thread mostly waits for a core (measured 30-100x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def make_tiny_dataset(tmp_path_factory):
    """``make(**overrides)``: a synthetic dataset with TINY_DATASET's parameters updated by ``overrides``,
    generated once per parameter set for the whole session. Tests must not modify it (copy it first)."""
    made = {}

    def make(**overrides):
        params = {**TINY_DATASET, **overrides}
        key = json.dumps(params, sort_keys=True)
        if key not in made:
            made[key] = generate_dataset(tmp_path_factory.mktemp("tiny") / "ds", progress=False, workers=1, **params)
        return made[key]

    return make


@pytest.fixture(scope="session")
def tiny_dataset(make_tiny_dataset):
    return make_tiny_dataset()
