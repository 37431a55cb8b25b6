"""`embodied-mm perception gen-data|train|eval`: data, training and metrics of `learned`.

Example:
    embodied-mm perception gen-data --frames 4200 --out outputs/perception/train
    embodied-mm perception train --data outputs/perception/train --minutes 30
    embodied-mm perception eval --scenes 210 --modes learned color

`gen-data` renders labelled frames (`dataset.py`) from consecutive seeds of a split (`train`
from 0, `heldout` from `dataset.HELDOUT_SEED`). `train` fits the model (`train_perception.py`),
from scratch or, with `--init`, fine-tuning a checkpoint on your own frames. `eval` scores
detectors against ground truth on held-out scenes rendered on the fly, or on a folder of frames
(`--data`), and prints a markdown table (`metrics.py`). Bad arguments are a one-line
`embodied-mm: error:` and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from embodied_mm.perception.dataset import (
    SPLITS,
    camera_config,
    frame_stems,
    render_frame,
    save_frame,
    write_index,
)

MODES = ("learned", "color", "gt")


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _image_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if match is None or min(int(match[1]), int(match[2])) < 16:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT of at least 16x16, got {text!r}")
    return int(match[1]), int(match[2])


def _camera_arguments(parser: argparse.ArgumentParser) -> None:
    """The camera the scenes are rendered through (e.g. your camera's size, lens and
    calibrated pose); each defaults to the sim camera's."""
    parser.add_argument("--camera", type=_image_size, default=None, metavar="WxH",
                        help="image size (default: the sim's 320x240), e.g. 640x480 as a real "
                             "RGB-D camera streams")
    parser.add_argument("--fov", type=_positive_float, default=None, metavar="DEG",
                        help="vertical field of view (default: the sim's 55)")
    parser.add_argument("--eye", type=float, nargs=3, default=None, metavar=("X", "Y", "Z"),
                        help="camera position, m in the robot base frame (default: the sim's "
                             "1.15 0 0.75); render-time jitter is added around it")
    parser.add_argument("--target", type=float, nargs=3, default=None, metavar=("X", "Y", "Z"),
                        help="the point the camera looks at (default: the sim's 0.5 0 0)")


def _camera(args: argparse.Namespace) -> dict:
    return {"camera": args.camera, "fov_deg": args.fov, "eye": args.eye, "target": args.target}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embodied-mm perception",
                                     description="learned perception: data, training, metrics")
    sub = parser.add_subparsers(dest="action", required=True, metavar="action")
    gen = sub.add_parser("gen-data", help="render labelled RGB-D frames with domain randomisation")
    gen.add_argument("--frames", type=_positive, default=4200)
    gen.add_argument("--split", choices=sorted(SPLITS), default="train",
                     help="train: seeds from 0; heldout: seeds never trained on")
    gen.add_argument("--start", type=int, default=0,
                     help="offset of the first seed in the split (more data, or one share of it "
                          "per process into another folder)")
    gen.add_argument("--out", type=Path, default=Path("outputs/perception/train"))
    gen.add_argument("--no-augment", action="store_true",
                     help="clean images (render-time variation only)")
    _camera_arguments(gen)
    train = sub.add_parser("train", help="train (or fine-tune) the instance model")
    train.add_argument("--data", type=Path, nargs="+", required=True,
                       help="frame folders (gen-data output or your own labelled frames)")
    train.add_argument("--out", type=Path, default=Path("outputs/perception/model"))
    train.add_argument("--init", type=Path, default=None,
                       help="checkpoint folder to fine-tune from (e.g. checkpoints/perception)")
    train.add_argument("--minutes", type=_positive_float, default=30.0, help="time budget")
    train.add_argument("--epochs", type=_positive, default=None, help="stop after this many")
    train.add_argument("--lr", type=_positive_float, default=3e-3)
    train.add_argument("--batch", type=_positive, default=16)
    train.add_argument("--threads", type=_positive, default=1,
                       help="torch CPU threads (more only help on an otherwise idle CPU)")
    train.add_argument("--seed", type=int, default=0)
    ev = sub.add_parser("eval", help="precision / recall / accuracy / position error vs truth")
    ev.add_argument("--scenes", type=_positive, default=210,
                    help="held-out scenes rendered on the fly (ignored with --data)")
    ev.add_argument("--data", type=Path, default=None, help="score a folder of frames instead")
    ev.add_argument("--modes", nargs="+", choices=MODES, default=["learned", "color"])
    ev.add_argument("--checkpoint", type=Path, default=None,
                    help="learned model folder (default: the shipped checkpoints/perception)")
    ev.add_argument("--out", type=Path, default=Path("outputs/perception/eval.json"))
    ev.add_argument("--nominal", action="store_true",
                    help="held-out scenes through the sim's own camera and light, no noise")
    ev.add_argument("--threads", type=_positive, default=1, help="torch CPU threads")
    _camera_arguments(ev)
    return parser


def generate(out: Path, frames: int, split: str = "train", augment: bool = True,
             start: int = 0, echo=print, **camera) -> Path:
    """Renders `frames` frames of `split`, seeds from the split's first plus `start`, into
    `out` (emptied of earlier frames first), through the sim camera or the one `camera`
    describes (`dataset.camera_config`)."""
    from sim.world import TabletopWorld

    out.mkdir(parents=True, exist_ok=True)
    for old in list(out.glob("*.npz")) + list(out.glob("*.json")):
        old.unlink()
    if start < 0 or (split == "train" and start + frames > SPLITS["heldout"]):
        raise ValueError(f"--start {start} with --frames {frames} leaves the {split} seeds")
    first, begun = SPLITS[split] + start, time.perf_counter()
    with TabletopWorld(camera=camera_config(**camera)) as world:
        for i in range(frames):
            save_frame(render_frame(world, first + i, augment=augment), out, i)
            if (i + 1) % 100 == 0 or i + 1 == frames:
                rate = (i + 1) / (time.perf_counter() - begun)
                echo(f"gen-data: {i + 1}/{frames} frames ({rate:.1f}/s)")
    write_index(out, split, frames, first)
    echo(f"wrote {frames} frames to {out}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.action == "gen-data":
            generate(args.out, args.frames, args.split, augment=not args.no_augment,
                     start=args.start, **_camera(args))
        elif args.action == "train":
            from embodied_mm.perception.train_perception import TrainConfig, train

            for folder in args.data:
                frame_stems(folder)  # fails early, naming the folder
            train(TrainConfig(data=list(args.data), out=args.out, init=args.init,
                               minutes=args.minutes, epochs=args.epochs, lr=args.lr,
                               batch=args.batch, threads=args.threads, seed=args.seed))
        else:
            from embodied_mm.perception.metrics import evaluate_modes, markdown_table

            results = evaluate_modes(args.modes, scenes=args.scenes, data=args.data,
                                     checkpoint=args.checkpoint, threads=args.threads,
                                     nominal=args.nominal, **_camera(args))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))
            print(markdown_table(results))
            print(f"wrote {args.out}")
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"embodied-mm: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("embodied-mm: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
