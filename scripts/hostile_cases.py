"""The cases of hostile_inputs.py, one function per command, and the inputs they use, made at
run time: a tiny swapper, tiny images, damaged copies of them, a short clip."""

import csv
import os
from pathlib import Path

import numpy as np
from hostile_inputs import Case
from PIL import Image

NOT_UTF8 = b"caf\xe9 \xff"  # valid in a Linux file name, not in UTF-8


def tiny_swapper(path: Path) -> Path:
    """A random swapper with a tiny identity network, whose mask covers the face (as the tests')."""
    import torch

    from mobilefaceswap.models import MobileFaceSwap
    from mobilefaceswap.models.identity import IdentityEncoder, IRSEResNet
    from mobilefaceswap.models.swapper import save_swapper

    arch = {"layers": [1, 1, 1, 1], "channels": [16, 32, 64, 512], "use_se": True}
    torch.manual_seed(0)
    student = MobileFaceSwap()
    with torch.no_grad():
        student.fusion.layers[5].bias.fill_(3.0)
    save_swapper(path, student.eval(), IdentityEncoder(IRSEResNet(**arch)).eval(), crop_size=224, identity_arch=arch)
    return path


def damaged_swappers(swapper: Path, folder: Path) -> dict[str, Path]:
    """A copy whose weights hold a NaN (refused at load), and one whose finite weights give NaN."""
    import torch

    bundle = torch.load(swapper, map_location="cpu", weights_only=True)
    nan_key = next(k for k, v in bundle["student"].items() if v.is_floating_point() and v.numel() > 4)
    bundle["student"][nan_key].view(-1)[3] = float("nan")
    torch.save(bundle, folder / "nan-weights.pt")
    bundle = torch.load(swapper, map_location="cpu", weights_only=True)
    bundle["student"]["iin.predictor.norm.running_var"].fill_(-1.0)  # finite; its square root is not
    torch.save(bundle, folder / "nan-output.pt")
    return {"nan-weights": folder / "nan-weights.pt", "nan-output": folder / "nan-output.pt"}


def image_files(folder: Path) -> dict[str, Path]:
    """The bundled photos, small, and hostile images made from them."""
    from mobilefaceswap.data.embedded import bundled_photos
    from mobilefaceswap.data.sample_clip import make_sample_clip

    photos = bundled_photos()
    face = Image.fromarray(photos["skimage/astronaut"]).resize((256, 256))
    face.save(folder / "face.png")
    group = Image.fromarray(photos["insightface/t1.jpg"]).resize((640, 443))
    group.save(folder / "group.jpg", quality=90)
    Image.new("RGB", (64, 48), (120, 130, 140)).save(folder / "blank.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (8, 8, 3), np.uint8)).save(folder / "tiny.png")
    data = (folder / "group.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_text("not an image\n")
    frames = [face.rotate(angle) for angle in (0, 10, 20)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100)
    (folder / os.fsdecode(NOT_UTF8 + b".png")).write_bytes((folder / "tiny.png").read_bytes())
    make_sample_clip(folder / "clip.mp4", photos["skimage/astronaut"], (160, 120), frames=3, audio=False)
    return {p.stem: p for p in folder.iterdir() if p.is_file()}


def make_inputs(inputs: Path, outputs: Path) -> dict[str, Path]:
    """Every input file (under ``inputs``, checked unchanged after each case) and the output
    places (under ``outputs``): name -> path."""
    inputs.mkdir(parents=True)
    outputs.mkdir(parents=True)
    made = image_files(inputs)
    made["swapper"] = tiny_swapper(inputs / "swapper.pt")
    made.update(damaged_swappers(made["swapper"], inputs))
    for name in ("targets", "bad-folder", "empty-folder", "links", "dataset/person"):
        (inputs / name).mkdir(parents=True)
    (inputs / "targets/tiny.png").write_bytes(made["tiny"].read_bytes())
    (inputs / "bad-folder/face.png").write_bytes(made["face"].read_bytes())
    (inputs / "bad-folder/broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    os.symlink(inputs / "nowhere.jpg", inputs / "links/dangling.jpg")
    (inputs / "links/person").mkdir()
    os.symlink(inputs / "links/person/loop.jpg", inputs / "links/person/loop.jpg")
    (inputs / "a-file").write_text("a file, not a folder\n")
    (inputs / "empty.csv").write_text("")
    (inputs / "header.csv").write_text("source,target,swapped\n")
    (inputs / "wrong.csv").write_text("a,b\n1,2\n")
    (inputs / "missing-rows.csv").write_text(f"source,target,swapped\n{made['face']},{made['face']},{inputs / 'gone.png'}\n")
    made["scored"] = scored_table(outputs / "scored")
    return {**made, **{p.name: p for p in inputs.iterdir() if p.is_dir() or p.suffix == ".csv"}, "a-file": inputs / "a-file"}


def scored_table(folder: Path) -> Path:
    """An output folder holding a table2.csv with one scored row (what mfs table2 must not empty)."""
    folder.mkdir()
    with open(folder / "table2.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["row", "seeds", "id_retrieval"])
        writer.writerow(["full", "1", "90.0"])
    (folder / "table2.md").write_text("| row |\n|---|\n| full |\n")
    return folder


def unchanged(output: Path, original: Path) -> callable:
    return lambda: None if output.read_bytes() == original.read_bytes() else f"{output} is not {original}'s bytes"


def swap_args(made: dict, target: Path, output: Path, *extra: str, source: Path | None = None, checkpoint=None) -> list[str]:
    return ["swap", "--source", str(source or made["face"]), "--target", str(target), "--output", str(output),
            "--checkpoint", str(checkpoint or made["swapper"]), "--quiet", *extra]


def all_cases(made: dict[str, Path]) -> list[Case]:
    out = made["scored"].parent
    return [*swap_option_cases(made, out), *swap_output_cases(made, out), *swap_input_cases(made, out),
            *swap_result_cases(made, out), *other_command_cases(made, out), *data_command_cases(made, out),
            *live_cases(made, out), *train_cases(made, out)]


def swap_option_cases(made: dict, out: Path) -> list[Case]:
    o = out / "o.png"
    group = made["group"]
    return [
        Case("swap --crf 99", swap_args(made, group, o, "--crf", "99"), 1, "--crf 99: use 0 (lossless) to 51", (o,)),
        Case("swap --codec vp8", swap_args(made, group, o, "--codec", "vp8"), 1, "--codec vp8: use one of h264, hevc", (o,)),
        Case("swap --preset quick", swap_args(made, group, o, "--preset", "quick"), 1, "--preset quick: use one of", (o,)),
        Case("swap --redetect-every 0", swap_args(made, group, o, "--redetect-every", "0"), 2, "0: use 1 or more", (o,)),
        Case("swap --smoothing -1", swap_args(made, group, o, "--smoothing", "-1"), 2, "-1 is negative", (o,)),
        Case("swap --smoothing nan", swap_args(made, group, o, "--smoothing", "nan"), 2, "nan is negative", (o,)),
        Case("swap --smoothing-beta abc", swap_args(made, group, o, "--smoothing-beta", "abc"), 2, "invalid non_negative", (o,)),
        Case("swap --crf 1.5", swap_args(made, group, o, "--crf", "1.5"), 2, "invalid int value: '1.5'", (o,)),
        Case("swap --runtime tensorrt", swap_args(made, group, o, "--runtime", "tensorrt"), 2, "invalid choice: 'tensorrt'",
             (o,)),
        Case("swap --device tpu", swap_args(made, group, o, "--device", "tpu"), 2, "invalid choice: 'tpu'", (o,)),
        Case("swap without --source", ["swap", "--target", str(group), "--output", str(o), "--checkpoint",
                                       str(made["swapper"])], 2, "the following arguments are required: --source", (o,)),
        Case("swap --c2pa-cert without --c2pa-key", swap_args(made, group, o, "--c2pa-cert", str(made["a-file"])), 1,
             "--c2pa-cert and --c2pa-key go together", (o,)),
        Case("mfs with an unknown command", ["swapp"], 2, "invalid choice: 'swapp'"),
    ]


def swap_output_cases(made: dict, out: Path) -> list[Case]:
    group, clip = made["group"], made["clip"]
    return [
        Case("swap --output = --source", swap_args(made, group, made["face"]), 1, "it would be overwritten"),
        Case("swap --output = --target", swap_args(made, group, group), 1, "it would be overwritten"),
        Case("swap --output = --checkpoint", swap_args(made, group, made["swapper"]), 1, "it would be overwritten"),
        Case("swap image to x.txt", swap_args(made, group, out / "x.txt"), 1, "not an image file type", (out / "x.txt",)),
        Case("swap image to an existing folder", swap_args(made, group, made["targets"]), 1, "is a folder; give a file name"),
        Case("swap video to x.jpg", swap_args(made, clip, out / "x.jpg"), 1, "a video target needs a video file name",
             (out / "x.jpg",)),
        Case("swap video to x.webm", swap_args(made, clip, out / "x.webm"), 1, "a video target needs a video file name",
             (out / "x.webm",)),
        Case("swap folder to an existing file", swap_args(made, made["targets"], made["a-file"]), 1,
             "is a file; a folder --target needs an output folder"),
        Case("swap --output below a file", swap_args(made, group, made["a-file"] / "o.png"), 1,
             "because", ()),
        Case("swap of a missing target", swap_args(made, out / "gone.jpg", out / "o.png"), 1, "target not found"),
        Case("swap of an empty folder", swap_args(made, made["empty-folder"], out / "e"), 1, "no image or video in",
             (out / "e",)),
        Case("swap --checkpoint missing", swap_args(made, group, out / "o.png", checkpoint=out / "none.pt"), 1,
             "swapper checkpoint not found", (out / "o.png",)),
        Case("swap --checkpoint a text file", swap_args(made, group, out / "o.png", checkpoint=made["a-file"]), 1,
             "a-file", (out / "o.png",)),
    ]


def swap_input_cases(made: dict, out: Path) -> list[Case]:
    o = out / "o.png"
    group = made["group"]
    return [
        Case("swap, weights holding a NaN", swap_args(made, group, o, checkpoint=made["nan-weights"]), 1,
             "holds 1 NaN or infinite value(s)", (o,)),
        Case("swap, a source without a face", swap_args(made, group, o, source=made["blank"]), 1,
             "no face found in the source image", (o,)),
        Case("swap, a source that is text", swap_args(made, group, o, source=made["text"]), 1, "cannot read image", (o,)),
        Case("swap, a truncated source", swap_args(made, group, o, source=made["truncated"]), 1, "damaged or truncated", (o,)),
        Case("swap, an animated source", swap_args(made, group, o, source=made["animated"]), 1, "is animated (3 frames)", (o,)),
        Case("swap, an empty source file", swap_args(made, group, o, source=made["empty"]), 1, "cannot read image", (o,)),
        Case("swap, --only without a face", swap_args(made, group, o, "--only", str(made["blank"])), 1,
             "no face found in the --only reference image", (o,)),
        Case("swap, a truncated target", swap_args(made, made["truncated"], o), 1, "damaged or truncated", (o,)),
        Case("swap, an animated target", swap_args(made, made["animated"], o), 1, "is animated (3 frames)", (o,)),
        Case("swap --aligned of a 640x443 photo", swap_args(made, group, o, "--aligned"), 1,
             "--aligned takes square aligned face crops; this image is 640x443", (o,)),
        Case("swap, a swapper giving NaN", swap_args(made, group, o, checkpoint=made["nan-output"]), 1,
             "the swapper gave NaN or infinite values", (o,)),
        Case("swap, a swapper giving NaN on a video", swap_args(made, made["clip"], out / "v.mp4", checkpoint=made["nan-output"]),
             1, "frame 1: the swapper gave NaN", (out / "v.mp4",)),
    ]


def swap_result_cases(made: dict, out: Path) -> list[Case]:
    cat, name = out / "cat.png", os.fsdecode(NOT_UTF8 + b".png")
    return [
        Case("swap of a faceless 8x8 image", swap_args(made, made["tiny"], cat), 0, None, check=unchanged(cat, made["tiny"])),
        Case("swap of a folder with a broken file", swap_args(made, made["bad-folder"], out / "batch"), 3, None,
             check=lambda: None if (out / "batch/face.png").exists() else "face.png not written"),
        Case("swap of a target named in Latin-1", swap_args(made, made["tiny"].with_name(name), out / name),
             0, None, check=unchanged(out / name, made["tiny"])),
        Case("verify an unmarked image named in Latin-1 (a subprocess: OpenCV crashed on such names)",
             ["verify", str(made["tiny"].with_name(name))], 1, None, subprocess=True),
    ]


def other_command_cases(made: dict, out: Path) -> list[Case]:
    return [
        Case("verify a missing file", ["verify", str(out / "gone.png")], 2, None),
        Case("verify a text file named .png", ["verify", str(made["text"])], 2, None),
        Case("verify an unmarked photo", ["verify", str(made["group"])], 1, None),
        Case("verify an empty folder", ["verify", str(made["empty-folder"])], 2, None),
        Case("export --output below a file", ["export", "--checkpoint", str(made["swapper"]), "--source", str(made["face"]),
                                             "--output", str(made["a-file"] / "x")], 1, "is a file"),
        Case("export --runtimes bogus", ["export", "--checkpoint", str(made["swapper"]), "--source", str(made["face"]),
                                        "--output", str(out / "x"), "--runtimes", "bogus"], 2, "bogus: choose from"),
        Case("export, a missing checkpoint", ["export", "--checkpoint", str(out / "none.pt"), "--source", str(made["face"]),
                                             "--output", str(out / "x")], 1, "swapper checkpoint not found"),
        Case("export, a source without a face", ["export", "--checkpoint", str(made["swapper"]), "--source",
                                                str(made["blank"]), "--output", str(out / "x")], 1, "no face found"),
        Case("bench --frames 0", ["bench", "--frames", "0"], 2, "argument --frames: 0: use 1 or more"),
        Case("bench --seconds -1", ["bench", "--seconds", "-1"], 2, "argument --seconds"),
        Case("bench --threads two", ["bench", "--threads", "two"], 2, "argument --threads"),
        Case("bench --variants bogus", ["bench", "--variants", "bogus"], 2, "bogus: choose from"),
        Case("table2 of an empty sweep over a scored table", ["table2", "--results", str(made["empty-folder"]), "--output",
                                                              str(made["scored"])], 1, "it is left as it is"),
        Case("table2 of a missing sweep", ["table2", "--results", str(out / "gone"), "--output", str(out / "t")], 1, "gone"),
        Case("eval-swaps of an empty manifest", ["eval-swaps", "--manifest", str(made["empty.csv"])], 1, "is empty"),
        Case("eval-swaps of a header alone", ["eval-swaps", "--manifest", str(made["header.csv"])], 1,
             "has a header and no rows"),
        Case("eval-swaps of the wrong columns", ["eval-swaps", "--manifest", str(made["wrong.csv"])], 1, "needs a header"),
        Case("eval-swaps --output = --manifest", ["eval-swaps", "--manifest", str(made["missing-rows.csv"]), "--output",
                                                 str(made["missing-rows.csv"])], 1, "it would be overwritten"),
        Case("learning-curves of a missing sweep", ["learning-curves", "--results", str(out / "gone")], 1, "gone"),
        Case("convert-paddle of missing files", ["convert-paddle", "--swap", str(out / "a.pdparams"), "--arcface",
                                                str(out / "b.pdparams"), "--output", str(out / "c.pt")], 1, "a.pdparams",
             (out / "c.pt",)),
        Case("stats --size 300", ["stats", "--size", "300"], 2, "invalid choice: 300"),
    ]


def data_command_cases(made: dict, out: Path) -> list[Case]:
    cache = out / "cache"
    return [
        Case("prepare-data of a missing root", ["prepare-data", "--root", str(out / "gone"), "--output", str(cache)], 1,
             "gone", (cache,)),
        Case("prepare-data of dangling and looping links", ["prepare-data", "--root", str(made["links"]), "--output",
                                                           str(cache)], 1, "links to nothing, or looping", (cache,)),
        Case("prepare-data --output inside the dataset", ["prepare-data", "--root", str(made["dataset"]), "--output",
                                                         str(made["dataset"] / "cache")], 1, "inside the dataset"),
        Case("prepare-data --workers 0", ["prepare-data", "--root", str(made["dataset"]), "--output", str(cache),
                                          "--workers", "0"], 2, "0: use 1 or more", (cache,)),
        Case("prepare-data --shard-size -5", ["prepare-data", "--root", str(made["dataset"]), "--output", str(cache),
                                              "--shard-size", "-5"], 2, "-5: use 1 or more", (cache,)),
        Case("cache-teacher --pairs 0", ["cache-teacher", "--output", str(out / "teacher"), "--pairs", "0"], 2,
             "0: use 1 or more", (out / "teacher",)),
        Case("build-quality-set --batch-size 0", ["build-quality-set", "--checkpoints", str(out), "--output",
                                                  str(out / "q"), "--batch-size", "0"], 2, "0: use 1 or more", (out / "q",)),
    ]


def live_cases(made: dict, out: Path) -> list[Case]:
    def live(*extra: str) -> list[str]:
        return ["live", "--source", str(made["face"]), "--checkpoint", str(made["swapper"]), *extra]

    return [
        Case("live --camera 99", live("--camera", "99", "--output", str(out / "l.mp4")), 1, "cannot open camera 99",
             (out / "l.mp4",)),
        Case("live --camera missing.mp4", live("--camera", str(out / "missing.mp4"), "--output", str(out / "l.mp4")), 1,
             "no such file or device index", (out / "l.mp4",)),
        Case("live --camera a text file", live("--camera", str(made["a-file"]), "--output", str(out / "l.mp4")), 1,
             "cannot open video", (out / "l.mp4",)),
        Case("live --output x.avi", live("--camera", str(made["clip"]), "--output", str(out / "x.avi")), 1,
             "a live stream is written to a video file ending in", (out / "x.avi",)),
        Case("live --output = --camera", live("--camera", str(made["clip"]), "--output", str(made["clip"])), 1,
             "it would be overwritten"),
        Case("live --window without a display", live("--camera", str(made["clip"]), "--window"), 1,
             "no display to show a window on"),
        Case("live --duration -1", live("--camera", str(made["clip"]), "--duration", "-1"), 2, "-1 is negative"),
    ]


def train_cases(made: dict, out: Path) -> list[Case]:
    run = out / "run"
    base = [f"hydra.run.dir={run}", f"paths.runs_dir={out / 'runs'}", "logger=csv"]

    def train(name: str, overrides: list[str], error: str) -> Case:
        return Case(f"mfs-train {' '.join(overrides)}", [*base, *overrides], 1, error, (run / "checkpoints",),
                    program="mfs-train")

    return [
        train("typo group", ["+abaltion=adain"], "+abaltion: not a config group (did you mean ablation?)"),
        train("type", ["trainer.max_steps=abc"], "trainer.max_steps: input should be a valid integer"),
        train("batch", ["data.batch_size=0"], "data.batch_size: input should be greater than 0"),
        train("batch float", ["data.batch_size=2.5"], "data.batch_size:"),
        train("lr", ["model.optim.lr_generator=-0.001"], "model.optim.lr_generator: input should be greater than 0"),
        train("lr inf", ["model.optim.lr_generator=inf"], "input should be a finite number"),
        train("betas", ["model.optimizer.betas=[0.5,1.5]"], "model.optimizer.betas.1: input should be less than 1"),
        train("steps", ["trainer.max_steps=0"], "trainer.max_steps=0: trains nothing"),
        train("unknown key", ["+loss.lambda_foo=1"], "loss.lambda_foo: not a setting"),
        train("trainer", ["trainer=bogus"], "trainer=bogus: unknown trainer"),
        train("workers", ["data.num_workers=-1"], "data.num_workers: input should be greater than or equal to 0"),
    ]
