"""``paddleseg prepare-dataset``: what it prints (detection, skipped files, next commands) and refuses."""
import os

import cv2
import numpy as np
from PIL import Image

from paddleseg_liteseg.cli import main


def make_folder(root, count=5, value=255):
    for folder in ("images/a", "masks/a"):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    for index in range(count):
        mask = np.zeros((16, 32), np.uint8)
        mask[4:10, 4:20] = value
        cv2.imwrite(os.path.join(root, "images/a", f"{index}.png"), np.zeros((16, 32, 3), np.uint8))
        Image.fromarray(mask).save(os.path.join(root, "masks/a", f"{index}.png"))


def test_it_prints_the_detection_the_split_the_skipped_files_and_the_next_commands(tmp_path, capsys):
    make_folder(str(tmp_path))
    cv2.imwrite(str(tmp_path / "images" / "extra.jpg"), np.zeros((4, 4, 3), np.uint8))
    output = str(tmp_path / "out")
    assert main(["prepare-dataset", "--images", f"{tmp_path}/images", "--labels", f"{tmp_path}/masks",
                 "--output", output, "--split", "3", "1", "1", "--class_names", "sky", "kite"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "labels: binary (detected): binary masks (0/255): above 127.5 -> 1 (foreground), the rest 0"
    assert lines[1] == f"skipped 1 image without a mask of the same name: {tmp_path}/images/extra.jpg"
    assert lines[2] == f"5 pairs: 3 train, 1 val, 1 test (seed 0) -> {output}"
    assert lines[3].startswith("2 classes, share of train pixels: 0 sky (81.2%), 1 kite (18.8%)")
    assert lines[4] == f"next: paddleseg check-data --config {output}/pp_liteseg_t.yml"
    assert sorted(os.listdir(output)) == ["class_names.txt", "dataset.json", "labels", "pp_liteseg_b.yml",
                                          "pp_liteseg_t.yml", "test.txt", "train.txt", "val.txt"]


def test_an_existing_output_is_refused_naming_the_flag(tmp_path, capsys):
    make_folder(str(tmp_path))
    args = ["prepare-dataset", "--images", f"{tmp_path}/images", "--labels", f"{tmp_path}/masks", "--output",
            str(tmp_path / "out")]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 1
    assert capsys.readouterr().err == (f"paddleseg prepare-dataset: error: output folder {tmp_path}/out already "
                                       "holds files; pass --overwrite to replace it, or choose another --output\n")
    assert main([*args, "--overwrite"]) == 0


def test_a_forced_format_that_does_not_fit_names_the_file(tmp_path, capsys):
    make_folder(str(tmp_path))
    assert main(["prepare-dataset", "--images", f"{tmp_path}/images", "--labels", f"{tmp_path}/masks", "--output",
                 str(tmp_path / "out"), "--format", "palette"]) == 1
    assert capsys.readouterr().err == (
        f"paddleseg prepare-dataset: error: {tmp_path}/masks/a/0.png: a single-channel mask (5 such file(s)), but "
        "the format is palette, which reads palette masks\n")
