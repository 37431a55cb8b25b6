"""The console's web server: token on every request and websocket, localhost by default,
bad commands answered with a reason."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import aiohttp
import pytest

from embodied_mm.teleop.web import ConsoleServer

TOKEN = "s3cret-token-0123456789"


class EchoConsole:
    """The smallest console: a fixed state, no camera, commands echoed back."""

    def snapshot(self) -> dict:
        return {"mode": "planner"}

    def frame_jpeg(self) -> bytes | None:
        return None

    closed = 0

    def run_command(self, command: dict) -> dict:
        return {"ok": True, "echo": command["cmd"]}

    def pages_closed(self) -> None:
        self.closed += 1


@pytest.fixture
def server():
    s = ConsoleServer(EchoConsole(), TOKEN, port=0)
    s.start()
    yield s
    s.stop()


def _get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_binds_to_localhost_by_default(server):
    assert server.bound[0] == "127.0.0.1"
    assert server.url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("path", ["/", "/api/state", "/api/frame.jpg", "/ws"])
def test_every_path_refuses_requests_without_the_token(server, path):
    base = f"http://127.0.0.1:{server.port}{path}"
    assert _get(base)[0] == 401
    assert _get(f"{base}?token=wrong-token-0123456789")[0] == 403
    assert _get(base, {"Authorization": "Bearer nope-nope-nope-nope"})[0] == 403


def test_the_token_opens_the_page_and_the_api(server):
    status, body = _get(server.url)
    assert status == 200 and b"operator console" in body
    status, body = _get(f"http://127.0.0.1:{server.port}/api/state",
                        {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and json.loads(body) == {"mode": "planner"}


def test_commands_must_be_json_objects_with_a_cmd(server):
    def post(body: bytes) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/api/command", data=body, method="POST",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as err:
            text = err.read().decode()
            return err.code, json.loads(text) if text.startswith("{") else {"text": text}

    assert post(b'{"cmd": "takeover"}') == (200, {"ok": True, "echo": "takeover"})
    status, reply = post(b'["takeover"]')
    assert status == 400 and "cmd" in reply["error"]
    assert post(b"not json")[0] == 400


def test_short_tokens_are_refused():
    with pytest.raises(ValueError, match="16 characters"):
        ConsoleServer(EchoConsole(), "short")


def test_a_taken_port_is_a_clear_error(server):
    with pytest.raises(OSError, match="choose another port"):
        ConsoleServer(EchoConsole(), TOKEN, port=server.port).start()


def test_the_console_hears_when_the_last_page_closes(server):
    async def pages() -> list[int]:
        url = f"http://127.0.0.1:{server.port}/ws?token={TOKEN}"
        seen = []
        async with aiohttp.ClientSession() as session:
            first = await session.ws_connect(url)
            second = await session.ws_connect(url)
            await first.close()
            await asyncio.sleep(0.3)
            seen.append(server.console.closed)  # one page still open
            await second.close()
            for _ in range(50):
                if server.console.closed:
                    break
                await asyncio.sleep(0.1)
            seen.append(server.console.closed)
        return seen

    assert asyncio.run(pages()) == [0, 1]
