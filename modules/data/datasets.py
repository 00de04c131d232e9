"""The datasets a run reads, built from a config: the one place that imports ``dataloader.py``.

Frames come back as float tensors in [0, 1]: clips (T, 3, H, W), test videos (V, T, 3, H, W).
"""
from pathlib import Path

from ..errors import UserInputError


def dataset_root(DR=None):
    """``--DR``, or the embedded synthetic dataset (generated on first use)."""
    if DR:
        return Path(DR)
    from .synthetic import ensure_synthetic_dataset
    return ensure_synthetic_dataset()


def load_datasets(root, frame_size, train_vi_len, val_vi_len, anchor_gap=0, augment=()):
    """(train, val) Dataset_Dance of ``root`` at ``frame_size`` (H, W): training clips of ``train_vi_len``
    whose frame 0 may lie up to ``anchor_gap`` frames earlier, augmented by ``augment``, and the validation
    video."""
    from dataloader import Dataset_Dance
    train = Dataset_Dance(root, mode="train", video_len=train_vi_len, frame_H=frame_size[0], frame_W=frame_size[1],
                          max_anchor_gap=anchor_gap, augment=augment)
    return train, load_val_set(root, frame_size, val_vi_len)


def load_val_set(root, frame_size, val_vi_len):
    from dataloader import Dataset_Dance
    return Dataset_Dance(root, mode="val", video_len=val_vi_len, frame_H=frame_size[0], frame_W=frame_size[1])


def load_val_video(root, frame_size, val_vi_len):
    """The validation video of ``root``: (frames, poses), each (val_vi_len, 3, H, W) in [0, 1]."""
    return load_val_set(root, frame_size, val_vi_len)[0]


def load_test_set(root, frame_H, frame_W, frames_per_video):
    """The test videos of ``root``: (names, first_frames (V, 3, H, W), poses (V, T, 3, H, W)).

    Every video must have exactly ``frames_per_video`` pose labels (one per output frame, frame 0's
    included); the error names the video otherwise.
    """
    import torch
    from dataloader import Dataset_Test
    test_set = Dataset_Test(root, frame_H=frame_H, frame_W=frame_W)
    firsts, poses = [], []
    for name, (first, labels) in zip(test_set.videos, test_set):
        if len(labels) != frames_per_video:
            raise UserInputError(
                f"test video {name} ({Path(root) / 'test' / 'test_label' / name}) has {len(labels)} pose labels, "
                f"expected {frames_per_video} (one per output frame); for a dataset of shorter videos pass "
                f"--test_vi_len {len(labels)}")
        firsts.append(first[0])
        poses.append(labels)
    return list(test_set.videos), torch.stack(firsts), torch.stack(poses)


def load_ground_truth(root, frame_H, frame_W):
    """The test videos' true frames (V, T, 3, H, W) in [0, 1], or None when the dataset has none (the
    course's test set); only synthetic/imported datasets have ``test/test_img_gt``."""
    if not (Path(root) / "test" / "test_img_gt").is_dir():
        return None
    from dataloader import load_test_ground_truth
    return load_test_ground_truth(root, frame_H=frame_H, frame_W=frame_W)


def check_dataset(root, frame_H, frame_W, train_vi_len, val_vi_len):
    """Read every split of ``root`` (validating it and building the frame caches); returns a summary."""
    from dataloader import Dataset_Dance, Dataset_Test
    size = dict(frame_H=frame_H, frame_W=frame_W)
    train = Dataset_Dance(root, "train", video_len=train_vi_len, **size)
    val = Dataset_Dance(root, "val", video_len=val_vi_len, **size)
    test = Dataset_Test(root, **size)
    lengths = sorted({len(labels) for labels in test.labels})
    return (f"{root}: train {train.n_frames} frames ({len(train)} clips of {train_vi_len}), val {val.n_frames} "
            f"frames, test {len(test)} videos with {lengths} labels each: ok")
