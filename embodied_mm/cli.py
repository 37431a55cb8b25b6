"""`embodied-mm`: the command line. Each subcommand takes Hydra overrides as `key=value`.

Example:
    embodied-mm run task=stack seed=3
    embodied-mm eval planner=oracle task=all eval.episodes=20 eval.out_dir=/tmp/o

Bad input (unknown task, unknown key, bad value, unparseable plan text, empty instruction)
prints one line starting `embodied-mm: error:` and exits with status 2, without a traceback.
`--cfg` prints the composed configuration and exits; `--help` lists the config groups, their
options and keys; `-v` / `-q` make the package's log messages more or less verbose.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# subcommand -> (module with `main(cfg) -> int`, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("embodied_mm.demo", "the main job: one episode per task family, with a report"),
    "run": ("embodied_mm.run", "one sim episode in-process, printed step by step"),
    "eval": ("embodied_mm.eval.evaluate", "many episodes; writes eval_info.json and report.html"),
    "gen-data": ("embodied_mm.data.generate", "oracle rollouts → sharded planner dataset"),
    "train": ("embodied_mm.train", "train the PaLM-E planner's encoders (+ LoRA)"),
    "bench": ("embodied_mm.bench", "planner / sim / ROS 2 / training benchmarks → JSON"),
}
# subcommands whose first argument is a quoted question
QUESTION_COMMANDS: dict[str, tuple[str, str]] = {
    "ask": ("embodied_mm.data.ask", "answer a question about a scene: ask \"is obj_1 in obj_2?\""),
}
# subcommand -> (module with `main(argv) -> int` taking its own arguments, one-line help)
RAW_COMMANDS: dict[str, tuple[str, str]] = {
    "launch": ("embodied_mm.launch_runner",
               "run a ROS 2 YAML launch file: launch FILE [name:=value ...]"),
    "teleop": ("embodied_mm.teleop.cli",
               "operator console for teleoperated evaluation (sim graph + web page)"),
    "report": ("embodied_mm.eval.session_report",
               "eval_info.json + report.html for a teleop session or eval folder: report DIR"),
    "export": ("embodied_mm.data.export",
               "teleop session → planner training samples: export SESSION_DIR [--out DIR]"),
    "perception": ("embodied_mm.perception.cli",
                   "learned perception: perception gen-data | train | eval [--help]"),
}


def _user_errors() -> tuple[type[Exception], ...]:
    from embodied_mm.config.schema import ConfigError
    from embodied_mm.data.vqa import QuestionError
    from embodied_mm.plan_language import PlanError
    from embodied_mm.planner.base import PlannerError

    return ConfigError, PlanError, PlannerError, QuestionError, FileNotFoundError


def _common_options() -> dict:
    """Keyword arguments of `add_parser` giving a Hydra command `--cfg`, `-v`, `-q` and a
    `--help` that lists the config groups and keys."""
    from embodied_mm.config.describe import help_epilog

    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--cfg", action="store_true",
                         help="print the composed configuration (YAML) and exit")
    options.add_argument("-v", "--verbose", action="count", default=0,
                         help="more log messages (-vv: of every library too)")
    options.add_argument("-q", "--quiet", action="count", default=0,
                         help="fewer log messages (warnings only; -qq: errors only)")
    return {"parents": [options], "epilog": help_epilog(),
            "formatter_class": argparse.RawDescriptionHelpFormatter}


MAX_SEED = 2**32 - 1  # numpy's seed range
MIN_IMAGE_SIZE = 16  # px; the image encoder's patch grid needs a few patches
OUTPUT_DIRS = {"eval": ("eval", "out_dir"), "gen-data": ("data", "out_dir"),
               "train": ("train", "out_dir")}


def check_arguments(command: str, cfg) -> None:
    """Raises ConfigError naming the first bad override of `command`, before anything runs."""
    from embodied_mm.config import ConfigError

    for group in ("", "eval", "data", "train"):
        seed = (getattr(cfg, group) if group else cfg).seed
        if not 0 <= seed <= MAX_SEED:
            key = f"{group}.seed" if group else "seed"
            raise ConfigError(f"{key} must be in 0..{MAX_SEED}, got {seed}")
    if command == "gen-data" and cfg.data.image_size < MIN_IMAGE_SIZE:
        raise ConfigError(f"data.image_size must be >= {MIN_IMAGE_SIZE}, got "
                          f"{cfg.data.image_size}")
    if command in OUTPUT_DIRS:
        group, name = OUTPUT_DIRS[command]
        path = Path(getattr(getattr(cfg, group), name))
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"{group}.{name}={path}: cannot create it ({err.strerror})") \
                from None
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError(f"{group}.{name}={path}: not writable")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="embodied-mm", description="Embodied multimodal planning on a tabletop robot.",
        epilog="Overrides are Hydra key=value pairs, e.g. task=stack seed=3 planner=oracle; "
               "`embodied-mm COMMAND --help` lists the config groups and keys.")
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)
    common = _common_options()
    for name, (_, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text, **common)
        cmd.add_argument("overrides", nargs="*", metavar="key=value")
    for name, (_, help_text) in QUESTION_COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text, **common)
        cmd.add_argument("question")
        cmd.add_argument("overrides", nargs="*", metavar="key=value")
    for name, (_, help_text) in RAW_COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in RAW_COMMANDS:
        return int(importlib.import_module(RAW_COMMANDS[argv[0]][0]).main(argv[1:]))
    args = parser.parse_args(argv)
    table = QUESTION_COMMANDS if args.command in QUESTION_COMMANDS else COMMANDS
    module = importlib.import_module(table[args.command][0])
    errors = _user_errors()
    try:
        from embodied_mm.config import load_config
        from embodied_mm.config.describe import composed_yaml
        from embodied_mm.logs import configure_logging

        configure_logging(args.verbose, args.quiet)
        cfg = load_config([*getattr(module, "DEFAULT_OVERRIDES", ()), *args.overrides])
        if args.cfg:
            print(composed_yaml(cfg), end="")
            return 0
        check_arguments(args.command, cfg)
        if args.command in QUESTION_COMMANDS:
            return int(module.main(cfg, args.question))
        return int(module.main(cfg))
    except errors as err:
        print(f"embodied-mm: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("embodied-mm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
