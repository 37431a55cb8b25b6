"""Fuzzing, bounded in time: the console's websocket, launch files and suite files.

- `test_console_websocket_fuzz`: 1,200 hypothesis-generated messages (JSON of any shape, page
  commands with arguments of any type, huge and non-finite numbers, deep nesting, raw text,
  binary) over one websocket to a real console node: every message gets a reply on the same
  connection, the node keeps running and answering, and no input error engages the e-stop.
- `test_launch_file_fuzz`, `test_suite_file_fuzz`: 250 generated files each: every one is
  either accepted or refused with `LaunchError` / `ConfigError`; nothing else escapes.

Run: python -m pytest -q -m fuzz tests/reliability/test_fuzz.py
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodied_mm.config import ConfigError
from embodied_mm.eval.suite import load_suite
from embodied_mm.launch_runner.model import LaunchError
from embodied_mm.launch_runner.resolve import resolve_launch

pytestmark = pytest.mark.fuzz

WS_MESSAGES = 1200
FILES = 250
COMMANDS = ["run", "approval", "approve", "reject", "takeover", "handback", "jog", "gripper",
            "step", "reset", "scene", "label", "nosuch", "", "__init__", "_cmd_estop"]

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)
arguments = st.dictionaries(
    st.sampled_from(["instruction", "on", "linear", "yaw", "close", "step", "task", "seed",
                     "label", "note", "x"]), json_values, max_size=4)
commands = st.builds(lambda cmd, args: json.dumps({**args, "cmd": cmd}),
                     st.sampled_from(COMMANDS), arguments)
hostile = st.sampled_from([
    '{"cmd":"scene","task":"stack","seed":1e400}', '{"cmd":"jog","linear":[NaN,0,0]}',
    '{"cmd":"scene","task":"stack","seed":' + "9" * 5000 + "}", "[" * 10_000, "{" * 3000,
    '{"cmd":"run","instruction":"' + "x" * 100_000 + '"}', '"cmd"', "null", "", "\x00"])
messages = (commands | json_values.map(json.dumps) | st.text(max_size=200) | hostile
            | st.binary(max_size=64))


class WebsocketPage:
    """One websocket to the console, driven from synchronous test code."""

    def __init__(self, url: str) -> None:
        import aiohttp

        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()

        async def connect():
            self._session = aiohttp.ClientSession()
            return await self._session.ws_connect(url, max_msg_size=0)

        self.ws = self._run(connect())

    def _run(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def send(self, message: str | bytes) -> dict:
        """Sends one message and returns the reply to it (state pushes are skipped)."""
        import aiohttp

        async def exchange() -> dict:
            if isinstance(message, bytes):
                await self.ws.send_bytes(message)
            else:
                await self.ws.send_str(message)
            while True:
                msg = await self.ws.receive(timeout=20)
                assert msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY), msg
                if msg.type == aiohttp.WSMsgType.TEXT and "reply" in (data := json.loads(
                        msg.data)):
                    return data["reply"]

        return self._run(exchange())

    def close(self) -> None:
        async def close():
            await self.ws.close()
            await self._session.close()

        self._run(close())
        self._loop.call_soon_threadsafe(self._loop.stop)


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    """A console node process (no sim, no planner), its API client and an open page."""
    pytest.importorskip("rclpy")
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1] / "teleop"))
    import random

    from teleop_helpers import REPO, TOKEN, ConsoleClient, free_port, stop_console

    from embodied_mm.teleop.access import write_token_file

    tmp = tmp_path_factory.mktemp("fuzz")
    port, log = free_port(), tmp / "console.log"
    env = {**__import__("os").environ, "ROS_DOMAIN_ID": str(random.randint(100, 200)),
           "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "embodied_mm.ros.teleop_console", "--ros-args", "-p",
         f"out_dir:={tmp / 'session'}", "-p", f"port:={port}", "-p",
         f"token_file:={write_token_file(tmp / 'token', TOKEN)}"],
        cwd=REPO, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    api = ConsoleClient(port)
    api.wait_until(lambda s: s["mode"] == "planner", 60, "the console", log.read_text)
    page = WebsocketPage(f"http://127.0.0.1:{port}/ws?token={TOKEN}")
    yield proc, api, page, log
    page.close()
    stop_console(proc, log)


def test_console_websocket_fuzz(console):
    proc, api, page, log = console
    replies = []

    @settings(max_examples=WS_MESSAGES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(messages)
    def one_message(message):
        reply = page.send(message)
        assert isinstance(reply, dict) and ("ok" in reply or "error" in reply), reply
        replies.append(reply)

    one_message()
    assert len(replies) >= 1000
    assert sum("error" in r for r in replies) > 100  # most of it was refused, with reasons
    assert proc.poll() is None, log.read_text()[-3000:]
    state = api.state()  # still answering, over HTTP too
    assert state["estop"] is False, "an input error engaged the e-stop"
    assert page.send('{"cmd": "approval", "on": false}') == {"ok": True}  # same connection
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


tags = st.sampled_from(["arg", "let", "node", "executable", "include", "group",
                        "push-ros-namespace", "nod"])
names = st.sampled_from(["name", "default", "value", "cmd", "exec", "pkg", "children",
                         "file", "if", "unless", "param", "remap", "env", "output", "respawn",
                         "respawn_delay", "scoped", "namespace", "args", "ros_args"])
texts = st.sampled_from(["x", "$(var x)", "$(env HOME)", "$(find-pkg-share embodied_mm)",
                         "$(var", "true", "echo hi", "$(dirname)/a.launch.yaml", "", "3",
                         "/ns", "$(eval 1)", "screen", "$(optenv NOPE d)"])
attr_values = st.recursive(texts | st.integers() | st.floats(allow_nan=True) | st.booleans()
                           | st.none(), lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(names, inner, max_size=3), max_leaves=8)
entities = st.recursive(
    st.dictionaries(tags, st.dictionaries(names, attr_values, max_size=4), min_size=1,
                    max_size=1),
    lambda inner: st.dictionaries(st.just("group"), st.fixed_dictionaries(
        {"children": st.lists(inner, max_size=3)}), min_size=1, max_size=1), max_leaves=10)
launch_docs = st.one_of(
    st.lists(entities, max_size=5).map(lambda e: yaml.safe_dump({"launch": e})),
    attr_values.map(yaml.safe_dump),
    st.text(max_size=200),
    st.sampled_from(["launch:\n- group:\n    children: &a\n    - group: {children: *a}\n",
                     "launch: " + "[" * 500 + "]" * 500, "launch: &a [*a]", "\t\x00"]))


@settings(max_examples=FILES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(launch_docs)
def test_launch_file_fuzz(tmp_path, text):
    path = tmp_path / "a.launch.yaml"
    path.write_text(text, errors="surrogatepass")
    try:
        resolve_launch(path, {"x": "1"})
    except LaunchError:
        pass


suite_entries = st.dictionaries(
    st.sampled_from(["task", "seed", "instruction", "n_distractors", "template_id", "x"]),
    st.sampled_from(["stack", "pick_place", "juggle"]) | attr_values, max_size=5)
suite_docs = st.one_of(
    st.lists(suite_entries, max_size=4).map(yaml.safe_dump),
    st.dictionaries(st.just("episodes"), st.lists(suite_entries, max_size=3)).map(json.dumps),
    attr_values.map(yaml.safe_dump), st.text(max_size=200),
    st.sampled_from(["&a [*a]", "[" * 20_000, "- &a {task: stack, seed: *a}"]))


@settings(max_examples=FILES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(suite_docs)
def test_suite_file_fuzz(tmp_path, text):
    from embodied_mm.tasks import TASKS

    path = tmp_path / "suite.yaml"
    path.write_text(text, errors="surrogatepass")
    try:
        specs = load_suite(path, TASKS)
    except ConfigError:
        return
    assert specs and all(s.task in TASKS and 0 <= s.seed < 2**32 for s in specs)
