"""metrics.csv across versions: a file written before the vacated-region and silhouette columns existed
still reads, takes new rows (a resumed run) and is plotted."""
import csv
import math

from modules.train.plots import plot_training_curves
from modules.train.runlog import COLUMNS, append_metrics, read_metrics

OLD_COLUMNS = COLUMNS[:COLUMNS.index("seconds") + 1]  # the columns of the first version
NEW_COLUMNS = COLUMNS[len(OLD_COLUMNS):]


def row(epoch):
    return {column: float(epoch + 1) for column in COLUMNS} | {"epoch": epoch}


def test_new_columns_come_after_the_old_ones():
    assert NEW_COLUMNS == ("val_vacated_psnr", "val_silhouette_iou", "copy_vacated_psnr", "copy_silhouette_iou")


def test_an_old_metrics_file_is_resumed_and_plotted(tmp_path):
    path = tmp_path / "metrics.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=OLD_COLUMNS)
        writer.writeheader()
        writer.writerow({k: v for k, v in row(0).items() if k in OLD_COLUMNS})
    old = read_metrics(path)
    assert old[0]["val_psnr"] == 1.0 and "val_vacated_psnr" not in old[0]
    assert len(plot_training_curves(path, tmp_path)) == 4  # the missing curves are left out

    append_metrics(path, row(1))
    rows = read_metrics(path)
    with path.open(newline="") as f:
        assert tuple(next(csv.reader(f))) == COLUMNS
    assert [r["epoch"] for r in rows] == [0, 1]
    assert all(math.isnan(rows[0][c]) for c in NEW_COLUMNS) and all(rows[1][c] == 2.0 for c in NEW_COLUMNS)
    assert rows[0]["val_psnr"] == 1.0
    assert (tmp_path / "psnr.png").stat().st_size > 1000
