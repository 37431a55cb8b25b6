"""Run the processes of a launch: one OS process each, prefixed output, signals, respawn.

As `ros2 launch` does:
- every process gets `PYTHONUNBUFFERED=1`; each of its stdout/stderr lines is printed as
  `[label] line` (label coloured on a terminal unless `NO_COLOR` is set);
- on SIGINT or SIGTERM every process gets SIGINT, then SIGTERM after its `sigterm_timeout`,
  then SIGKILL after its `sigkill_timeout` (5 s each unless set, e.g. `sigterm_timeout:=1.0`);
  a second signal kills at once;
- `respawn` restarts a process that exits (after `respawn_delay`, at most
  `respawn_max_retries` times), unless the launch is shutting down;
- `on_exit: shutdown` ends the launch when that process exits; the exit code is its code.

Unlike `ros2 launch`, a process that exits non-zero and will not be respawned ends the launch
too ("required process failed"): the others are stopped and the exit code is the failed
process's, so a crashed node cannot leave a CI job hanging. Every process runs in its own
process group, which is killed when the launch ends: no grandchild outlives the launch.
Exit code 0 means every process ended cleanly, or the launch was stopped by a signal.

Example:
    >>> run([ProcessSpec(label="hello", cmd=("echo", "hi"))])  # doctest: +ELLIPSIS
    [runner] hello started (pid ...)
    [hello] hi
    [runner] hello (pid ...) exited with 0
    0
"""

from __future__ import annotations

import dataclasses
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TextIO

from embodied_mm.ros.dds import dds_defaults


@dataclass(frozen=True)
class ProcessSpec:
    """One process to run: its fully resolved command line and its launch options."""

    label: str  # output prefix, unique within a launch
    cmd: tuple[str, ...]
    where: str = ""  # file:line of the tag that made it
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # added to the runner's environment
    respawn: bool = False
    respawn_delay: float = 0.0
    respawn_max_retries: int = -1  # negative: no limit
    shutdown_on_exit: bool = False
    sigterm_timeout: float = 5.0
    sigkill_timeout: float = 5.0

    def with_label(self, label: str) -> ProcessSpec:
        return dataclasses.replace(self, label=label)


@dataclass
class _Running:
    proc: subprocess.Popen
    next_signal: signal.Signals | None = None  # shutdown escalation still to come
    deadline: float = 0.0


def exit_status(returncode: int) -> int:
    """A shell-style exit status: 128 + N for a process killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def _describe(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with {returncode}"


class Launch:
    """Runs `specs` until they have all ended or the launch is shut down; see `run`."""

    def __init__(self, specs: Sequence[ProcessSpec], out: TextIO | None = None,
                 err: TextIO | None = None) -> None:
        self.specs = list(specs)
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.exit_code = 0
        self._events: queue.SimpleQueue = queue.SimpleQueue()  # put() is signal-handler safe
        self._running: dict[int, _Running] = {}  # by index into specs
        self._respawns: dict[int, float] = {}  # index -> when to start it again
        self._starts = [0] * len(self.specs)
        self._groups: set[int] = set()
        self._stopping = False
        self._write_lock = threading.Lock()
        self._colour = self.out.isatty() and "NO_COLOR" not in os.environ

    def run(self) -> int:
        """Start every process, supervise them, and return the launch's exit code."""
        previous = self._handle_signals()
        try:
            for index in range(len(self.specs)):
                if not self._stopping:
                    self._start(index)
            while self._running or self._respawns:
                self._step()
        finally:
            for pgid in self._groups:  # grandchildren included
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return self.exit_code

    def pids(self) -> dict[str, int]:
        """Label -> pid of each process running now (for tools that watch or fault them)."""
        return {self.specs[i].label: r.proc.pid for i, r in list(self._running.items())}

    def _handle_signals(self) -> dict[int, object]:
        if threading.current_thread() is not threading.main_thread():
            return {}

        def on_signal(signum: int, _frame: object) -> None:
            self._events.put(("signal", signum))

        return {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def _say(self, message: str) -> None:
        self._write(self.out, f"[runner] {message}")

    def _write(self, stream: TextIO, line: str) -> None:
        with self._write_lock:
            try:
                stream.write(line + "\n")
                stream.flush()
            except OSError:  # e.g. the reader of our stdout went away
                pass

    def _prefix(self, index: int) -> str:
        label = f"[{self.specs[index].label}]"
        return f"\033[{31 + index % 6}m{label}\033[0m " if self._colour else label + " "

    def _start(self, index: int) -> None:
        spec = self.specs[index]
        env = dds_defaults({**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"})
        try:
            proc = subprocess.Popen(spec.cmd, cwd=spec.cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
        except OSError as err:
            self._say(f"cannot start {spec.label} ({spec.where}): {err}")
            self.exit_code = self.exit_code or 127
            self._shutdown(f"required process {spec.label} failed")
            return
        self._starts[index] += 1
        self._groups.add(proc.pid)
        self._running[index] = _Running(proc)
        again = f", respawn {self._starts[index] - 1}" if self._starts[index] > 1 else ""
        self._say(f"{spec.label} started (pid {proc.pid}{again})")
        readers = [threading.Thread(target=self._pump, args=(pipe, stream, self._prefix(index)),
                                    daemon=True)
                   for pipe, stream in ((proc.stdout, self.out), (proc.stderr, self.err))]
        for reader in readers:
            reader.start()
        threading.Thread(target=self._watch, args=(index, proc, readers), daemon=True).start()

    def _pump(self, pipe: IO[bytes], stream: TextIO, prefix: str) -> None:
        with pipe:
            for raw in iter(pipe.readline, b""):
                self._write(stream, prefix + raw.decode(errors="replace").rstrip("\r\n"))

    def _watch(self, index: int, proc: subprocess.Popen, readers: list[threading.Thread]) -> None:
        proc.wait()
        for reader in readers:  # print its last lines before its exit; a grandchild may
            reader.join(timeout=1.0)  # still hold the pipe open, so don't wait for ever
        self._events.put(("exit", index, proc))

    def _step(self) -> None:
        now = time.monotonic()
        due = [r.deadline for r in self._running.values() if r.next_signal]
        timeout = min([0.5, *(t - now for t in [*due, *self._respawns.values()])])
        try:
            event = self._events.get(timeout=max(0.0, timeout))
        except queue.Empty:
            event = None
        if event and event[0] == "signal":
            self._on_signal(signal.Signals(event[1]))
        elif event:
            self._on_exit(event[1], event[2])
        now = time.monotonic()
        for index, when in list(self._respawns.items()):
            if now >= when:
                del self._respawns[index]
                self._start(index)
        for index, running in self._running.items():
            if running.next_signal and now >= running.deadline:
                self._escalate(index, running, now)

    def _on_signal(self, signum: signal.Signals) -> None:
        if not self._stopping:
            self._shutdown(f"got {signum.name}")
            return
        self._say(f"got {signum.name} again: killing")
        for running in self._running.values():
            running.next_signal, running.deadline = signal.SIGKILL, 0.0

    def _on_exit(self, index: int, proc: subprocess.Popen) -> None:
        del self._running[index]
        spec, code = self.specs[index], proc.returncode
        self._say(f"{spec.label} (pid {proc.pid}) {_describe(code)}")
        if self._stopping:
            return
        retries = self._starts[index] - 1
        retries_left = spec.respawn_max_retries < 0 or retries < spec.respawn_max_retries
        if spec.shutdown_on_exit:
            self.exit_code = exit_status(code)
            self._shutdown(f"{spec.label} exited and has on_exit: shutdown")
        elif spec.respawn and retries_left:
            self._respawns[index] = time.monotonic() + spec.respawn_delay
        elif code != 0:
            self.exit_code = exit_status(code)
            self._shutdown(f"required process {spec.label} ({spec.where}) failed")

    def _shutdown(self, reason: str) -> None:
        if self._stopping:
            return
        self._stopping = True
        self._respawns.clear()
        labels = ", ".join(self.specs[i].label for i in self._running)
        self._say(f"{reason}: stopping {labels}" if labels else reason)
        now = time.monotonic()
        for index, running in self._running.items():
            self._signal(running, signal.SIGINT)
            running.next_signal = signal.SIGTERM
            running.deadline = now + self.specs[index].sigterm_timeout

    def _escalate(self, index: int, running: _Running, now: float) -> None:
        sig, spec = running.next_signal, self.specs[index]
        self._say(f"{spec.label} (pid {running.proc.pid}) still running: sending {sig.name}")
        self._signal(running, sig)
        running.next_signal = signal.SIGKILL if sig == signal.SIGTERM else None
        running.deadline = now + spec.sigkill_timeout

    @staticmethod
    def _signal(running: _Running, sig: signal.Signals) -> None:
        if running.proc.returncode is None:
            try:
                os.killpg(running.proc.pid, sig)
            except ProcessLookupError:
                pass


def run(specs: Sequence[ProcessSpec], out: TextIO | None = None,
        err: TextIO | None = None) -> int:
    """Run `specs` as one launch (see the module docstring); returns the exit code."""
    return Launch(specs, out, err).run()
