"""Launch files -> resolved command lines: arguments, substitutions, scoping, errors, `--print`.

Run: python -m pytest -q tests/launch_runner/test_description.py
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from embodied_mm.launch_runner.cli import main
from embodied_mm.launch_runner.model import LaunchError
from embodied_mm.launch_runner.resolve import resolve_launch
from embodied_mm.paths import share_dir


@pytest.fixture
def prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ament-like prefix with package `fakepkg`: an executable `talker` and a share dir."""
    root = tmp_path / "prefix"
    talker = root / "lib" / "fakepkg" / "talker"
    talker.parent.mkdir(parents=True)
    talker.write_text(f"#!{sys.executable}\nprint('hi')\n")
    talker.chmod(0o755)
    (root / "share" / "fakepkg").mkdir(parents=True)
    (root / "share" / "fakepkg" / "params.yaml").write_text("talker:\n  ros__parameters: {}\n")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(root))
    return root


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def commands(path: Path, **arguments: str) -> dict[str, list[str]]:
    return {s.label: list(s.cmd) for s in resolve_launch(path, arguments)}


def test_node_command_line_is_built_like_launch_ros(tmp_path, prefix):
    f = write(tmp_path, "a.launch.yaml", """\
        launch:
          - arg: {name: robot, default: panda}
          - arg: {name: dump, default: ""}
          - let: {name: sizes, value: '[1.5, 2.5]'}
          - node:
              pkg: fakepkg
              exec: talker
              name: talk
              namespace: $(var robot)
              args: --rate 2 "a b"
              ros_args: --log-level debug
              param:
                - {name: gui, value: false}
                - {name: hz, value: 240.5}
                - {name: n, value: 3}
                - {name: label, value: '3'}
                - {name: word, value: hello}
                - {name: names, value: [a, b]}
                - {name: count, value: $(var robot)}
                - {name: sizes, value: $(var sizes)}
                - {name: dump, value: $(var dump)}
                - {name: arm, param: [{name: dof, value: 7}]}
                - {from: $(find-pkg-share fakepkg)/params.yaml}
              remap:
                - {from: /cmd, to: /$(var robot)/cmd}
        """)
    talker = str(prefix / "lib" / "fakepkg" / "talker")
    assert commands(f)["talk"] == [
        talker, "--rate", "2", "a b", "--ros-args", "--log-level", "debug", "--ros-args",
        "-r", "__node:=talk", "-r", "__ns:=/panda",
        "-p", "gui:=false", "-p", "hz:=240.5", "-p", "n:=3", "-p", 'label:="3"',
        "-p", "word:=hello", "-p", "names:=[a, b]", "-p", "count:=panda",
        "-p", "sizes:=[1.5, 2.5]", "-p", 'dump:=""', "-p", "arm.dof:=7",
        "--params-file", str(prefix / "share" / "fakepkg" / "params.yaml"),
        "-r", "/cmd:=/panda/cmd"]
    assert "__ns:=/fr3" in commands(f, robot="fr3")["talk"]


def test_substitutions_let_env_and_package_share(tmp_path, prefix, monkeypatch):
    monkeypatch.setenv("EMM_TEST_VALUE", "from-env")
    monkeypatch.delenv("EMM_TEST_UNSET", raising=False)
    f = write(tmp_path, "a.launch.yaml", """\
        launch:
          - let: {name: x, value: 'x-$(env EMM_TEST_VALUE)'}
          - executable:
              cmd: >-
                echo $(var x) $(env EMM_TEST_UNSET fallback) [$(optenv EMM_TEST_UNSET)]
                $(find-pkg-share embodied_mm) $(find-pkg-share fakepkg) $(dirname)
                '$(var x) y' \\$(var x)
        """)
    assert commands(f)["echo"] == [
        "echo", "x-from-env", "fallback", "[]", str(share_dir()),
        str(prefix / "share" / "fakepkg"), str(tmp_path), "x-from-env y", "$(var", "x)"]


def test_embodied_mm_nodes_run_as_python_modules_without_an_install(tmp_path, monkeypatch):
    monkeypatch.setenv("AMENT_PREFIX_PATH", "")
    f = write(tmp_path, "a.launch.yaml", """\
        launch:
          - node: {pkg: embodied_mm, exec: sim_node, name: sim}
        """)
    assert commands(f)["sim"] == [sys.executable, "-m", "embodied_mm.ros.sim_node",
                                  "--ros-args", "-r", "__node:=sim"]


def test_include_passes_args_and_group_scopes_configurations(tmp_path, prefix):
    write(tmp_path, "inner.launch.yaml", """\
        launch:
          - arg: {name: who}
          - executable: {cmd: echo $(var who), name: inner}
        """)
    f = write(tmp_path, "outer.launch.yaml", """\
        launch:
          - let: {name: who, value: outer}
          - group:
              children:
                - let: {name: who, value: scoped}
                - push-ros-namespace: {namespace: ns}
                - node: {pkg: fakepkg, exec: talker, name: grouped}
          - executable: {cmd: echo $(var who), name: after_group}
          - node: {pkg: fakepkg, exec: talker, name: plain}
          - group:
              scoped: false
              children:
                - let: {name: leaked, value: 'yes'}
          - group:
              scoped: true
              forwarding: false
              keep: [{name: kept, value: $(var who)}]
              children:
                - executable: {cmd: echo $(var kept), name: fresh}
          - group:
              - include:
                  file: $(dirname)/inner.launch.yaml
                  arg: [{name: who, value: included-$(var leaked)}]
        """)
    cmds = commands(f)
    assert "__ns:=/ns" in cmds["grouped"] and not any("__ns" in a for a in cmds["plain"])
    assert cmds["after_group"] == ["echo", "outer"]
    assert cmds["fresh"] == ["echo", "outer"]
    assert cmds["inner"] == ["echo", "included-yes"]
    f = write(tmp_path, "fresh.launch.yaml", """\
        launch:
          - let: {name: who, value: outer}
          - group:
              forwarding: false
              children: [{executable: {cmd: echo $(var who)}}]
        """)
    with pytest.raises(LaunchError, match=r"fresh.launch.yaml:5: executable: .*'who' is not set"):
        commands(f)  # forwarding: false starts from the kept names only


def test_conditions(tmp_path, prefix):
    f = write(tmp_path, "a.launch.yaml", """\
        launch:
          - arg: {name: gui, default: 'false'}
          - executable: {cmd: echo gui, name: gui, if: $(var gui)}
          - executable: {cmd: echo headless, name: headless, unless: $(var gui)}
          - group:
              if: '1'
              children: [{executable: {cmd: echo always, name: always}}]
        """)
    assert sorted(commands(f)) == ["always", "headless"]
    assert sorted(commands(f, gui="true")) == ["always", "gui"]
    with pytest.raises(LaunchError, match=r"a.launch.yaml:3: executable: expected true/false"):
        commands(f, gui="maybe")


def test_duplicate_labels_are_numbered(tmp_path, prefix):
    f = write(tmp_path, "a.launch.yaml", """\
        launch:
          - node: {pkg: fakepkg, exec: talker}
          - node: {pkg: fakepkg, exec: talker}
        """)
    assert sorted(commands(f)) == ["talker", "talker-2"]


@pytest.mark.parametrize("body, error", [
    ("  - nod: {pkg: fakepkg, exec: talker}\n", r"a.launch.yaml:2: unknown tag 'nod'"),
    ("  - node: {pkg: fakepkg, exec: talker, nam: x}\n",
     r"a.launch.yaml:2: node: unknown attribute 'nam'"),
    ("  - arg: {name: world}\n", r"a.launch.yaml:2: arg 'world': required .* world:=VALUE"),
    ("  - arg: {name: n, default: 3}\n", r"a.launch.yaml:2: arg: attribute 'default' must be a "
                                         r"string; quote it"),
    ("  - node: {pkg: nopkg, exec: talker}\n", r"a.launch.yaml:2: node: unknown package 'nopkg'"),
    ("  - node: {pkg: fakepkg, exec: nope}\n", r":2: node: package 'fakepkg' has no executable"),
    ("  - let: {name: p, value: $(find-pkg-share nopkg)}\n", r":2: let: unknown package 'nopkg'"),
    ("  - let: {name: p, value: $(eval 1+1)}\n", r":2: let: '\$\(eval ...\)' is not supported"),
    ("  - let: {name: p, value: $(var}\n", r":2: let: unterminated"),
    ("  - let: {name: p, value: $(env EMM_TEST_UNSET)}\n", r":2: let: environment variable"),
    ("  - executable: {cmd: ls, respawn_delay: 2}\n", r":2: executable: .*'respawn_delay' must"),
    ("  - include: {file: $(dirname)/missing.launch.yaml}\n", r":2: include: no such launch"),
    ("  - include: {file: $(dirname)/a.launch.yaml}\n", r":2: include: .* includes itself"),
    ("  - node: {pkg: fakepkg, exec: talker, name: a/b}\n", r":2: node: invalid node name"),
    ("  - node:\n      exec: ls\n      param: [{name: p, value: {a: 1}}]\n",
     r":4: param: value must be"),
    ("  - group: {scoped: maybe, children: []}\n", r":2: group: attribute 'scoped' must be"),
    ("  - let: {name: m, value: 'a: 1'}\n  - node:\n      exec: ls\n"
     "      param: [{name: p, value: $(var m)}]\n", r":5: param: 'a: 1' is not a YAML scalar"),
])
def test_errors_name_file_line_and_tag(tmp_path, prefix, monkeypatch, body, error):
    monkeypatch.delenv("EMM_TEST_UNSET", raising=False)
    f = write(tmp_path, "a.launch.yaml", "launch:\n" + body)
    with pytest.raises(LaunchError, match=error):
        resolve_launch(f, {})


def test_cli_print_and_errors(tmp_path, prefix, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "a.launch.yaml", """\
        launch:
          - arg: {name: robot, description: which arm}
          - nod: {}
        """)
    assert main(["a.launch.yaml", "robot:=fr3"]) == 2
    assert capsys.readouterr().err == "embodied-mm launch: error: a.launch.yaml:3: unknown tag " \
        "'nod' (supported: arg, let, node, executable, include, group, push-ros-namespace, " \
        "push_ros_namespace)\n"
    write(tmp_path, "a.launch.yaml", """\
        launch:
          - arg: {name: robot, description: which arm}
          - node: {pkg: fakepkg, exec: talker, name: $(var robot)}
        """)
    assert main(["a.launch.yaml", "--print", "robot:=fr3"]) == 0
    label, cmd = capsys.readouterr().out.strip().split(": ", 1)
    assert label == "fr3" and shlex.split(cmd)[-1] == "__node:=fr3"
    assert main(["a.launch.yaml", "--show-args"]) == 0
    assert capsys.readouterr().out == "robot:=  (required)  which arm\n"
    for argv, message in ((["missing.launch.yaml"], "no such launch file: missing.launch.yaml"),
                          (["a.launch.yaml", "robot=fr3"], "bad launch argument 'robot=fr3'"),
                          (["a.launch.yaml"], "a.launch.yaml:2: arg 'robot': required")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"embodied-mm launch: error: {message}") and err.count("\n") == 1


def test_cli_runs_as_a_module_without_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "embodied_mm.launch_runner.cli", "nope.yaml"],
                          capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ))
    assert proc.returncode == 2
    assert proc.stderr == "embodied-mm launch: error: no such launch file: nope.yaml\n"
