"""Shared by the teleop tests: the console's JSON API with its token, free ports."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOKEN = "teleop-test-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ConsoleClient:
    """The console's JSON API with the token, as the page uses it."""

    def __init__(self, port: int, token: str = TOKEN) -> None:
        self.base, self.token = f"http://127.0.0.1:{port}", token
        self.url = f"{self.base}/?token={token}"

    def _open(self, request: urllib.request.Request) -> dict:
        request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as err:
            return json.loads(err.read())

    def state(self) -> dict:
        return self._open(urllib.request.Request(f"{self.base}/api/state"))

    def command(self, cmd: str, **args) -> dict:
        return self._open(urllib.request.Request(
            f"{self.base}/api/command", data=json.dumps({"cmd": cmd, **args}).encode(),
            headers={"Content-Type": "application/json"}, method="POST"))

    def wait_until(self, predicate, timeout_s: float, what: str, log=lambda: "") -> dict:
        deadline = time.monotonic() + timeout_s
        state = None
        while time.monotonic() < deadline:
            try:
                state = self.state()
                if predicate(state):
                    return state
            except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
                pass
            time.sleep(0.25)
        pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}; state {state}\n"
                    f"{log()[-4000:]}")


def close_a_page(port: int, token: str = TOKEN) -> None:
    """Opens the page's websocket and closes it again, as a closed browser tab does."""
    import asyncio

    import aiohttp

    async def visit() -> None:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"http://127.0.0.1:{port}/ws?token={token}")
            await ws.receive(timeout=10)  # the first state push: the page is live
            await ws.close()

    asyncio.run(visit())


@contextmanager
def open_page(port: int, token: str = TOKEN) -> Iterator[None]:
    """Keeps the page's websocket open (in a thread) for the `with` body, as a browser tab
    left open does; the server may close it."""
    import asyncio

    import aiohttp

    live, done = threading.Event(), threading.Event()

    async def watch() -> None:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"http://127.0.0.1:{port}/ws?token={token}")
            await ws.receive(timeout=10)
            live.set()
            while not done.is_set() and not ws.closed:
                try:
                    await ws.receive(timeout=0.2)
                except TimeoutError:
                    pass

    thread = threading.Thread(target=asyncio.run, args=(watch(),), daemon=True)
    thread.start()
    assert live.wait(10), "the page's websocket did not open"
    try:
        yield
    finally:
        done.set()
        thread.join(10)


def stop_console(proc: subprocess.Popen, log: Path, timeout_s: float = 20.0) -> None:
    """SIGTERM, as a launcher stops a node: the console must exit cleanly and promptly.
    If it hangs, its stacks (SIGUSR1, see `run_node`) go into the failure message."""
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)
        time.sleep(1.0)
        proc.kill()
        proc.wait()
        pytest.fail(f"the console did not exit within {timeout_s:.0f} s of SIGTERM:\n"
                    f"{log.read_text()[-6000:]}")
    assert code == 0, f"the console exited with {code}:\n{log.read_text()[-4000:]}"
