"""The console's web server: token on every request and websocket, localhost by default,
foreign Host and Origin refused, every malformed message answered with a reason."""

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
    # What the probe sent: each a 400 with a reason, never a 500.
    for body, reason in ((b'{"cmd": "scene", "seed": 1e400}', "finite"),
                         (b"[" * 100_000, "levels deep"),
                         (b'{"cmd": "x", "a": ' + b"9" * 5000 + b"}", "integer too long"),
                         (b'{"cmd": "\xff\xfe"}', "UTF-8"),
                         (b'{"cmd": "x", "n": NaN}', "finite")):
        status, reply = post(body)
        assert status == 400 and reason in reply["error"], (body[:40], reply)


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


def _status(server, path: str = "/api/state", **headers) -> int:
    return _get(f"http://127.0.0.1:{server.port}{path}",
                {"Authorization": f"Bearer {TOKEN}", **headers})[0]


def test_foreign_host_headers_are_refused(server):
    """DNS rebinding: a page on evil.example re-bound to 127.0.0.1 sends `Host: evil.example`."""
    assert _status(server, Host=f"evil.example:{server.port}") == 403
    assert _status(server, Host=f"localhost:{server.port}") == 200
    assert _status(server, Host=f"127.0.0.1:{server.port}") == 200
    assert _status(server, Host=f"[::1]:{server.port}") == 200


def test_cross_origin_requests_and_websockets_are_refused(server):
    assert _status(server, Origin="http://evil.example") == 403
    assert _status(server, Origin=f"http://127.0.0.1:{server.port}") == 200

    async def connect(origin: str) -> int:
        async with aiohttp.ClientSession() as session:
            try:
                ws = await session.ws_connect(
                    f"http://127.0.0.1:{server.port}/ws?token={TOKEN}",
                    headers={"Origin": origin})
            except aiohttp.WSServerHandshakeError as err:
                return err.status
            await ws.close()
            return 101

    assert asyncio.run(connect("http://evil.example")) == 403
    assert asyncio.run(connect("null")) == 403
    assert asyncio.run(connect(f"http://127.0.0.1:{server.port}")) == 101


def test_malformed_websocket_messages_get_error_replies_and_keep_the_page(server):
    """The probe's messages: each answered with an error on the same connection, which stays
    open (a dropped page during a take-over would e-stop the arm)."""
    bad = ['{"cmd":"scene","seed":1e400}', "[" * 50_000 + "]" * 50_000, "not json",
           '{"cmd": 3}', '{"cmd":"x","a":' + "1" * 10_000 + "}", '"just a string"']

    async def exchange() -> list[dict]:
        replies = []
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"http://127.0.0.1:{server.port}/ws?token={TOKEN}")
            for text in bad:
                await ws.send_str(text)
                replies.append(await _next_reply(ws))
            await ws.send_bytes(b"\xff\x00binary")
            replies.append(await _next_reply(ws))
            await ws.send_str('{"cmd": "takeover"}')
            replies.append(await _next_reply(ws))
            await ws.close()
        return replies

    replies = asyncio.run(exchange())
    assert all("error" in r for r in replies[:-1]), replies
    assert replies[-1] == {"ok": True, "echo": "takeover"}  # the same connection still works


async def _next_reply(ws) -> dict:
    while True:
        msg = await ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        if "reply" in data:
            return data["reply"]


class FailingConsole(EchoConsole):
    """A console whose command handler has a bug."""

    def run_command(self, command: dict) -> dict:
        raise RuntimeError("bug")


def test_a_console_bug_is_an_error_reply_not_a_dropped_connection():
    s = ConsoleServer(FailingConsole(), TOKEN, port=0)
    s.start()
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{s.port}/api/command", data=b'{"cmd": "takeover"}',
            method="POST", headers={"Authorization": f"Bearer {TOKEN}"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=5)
        assert err.value.code == 400
        assert "RuntimeError" in json.loads(err.value.read())["error"]
    finally:
        s.stop()


@pytest.mark.parametrize("host, url", [
    ("127.0.0.1", "http://127.0.0.1:8765/?token=T"), ("0.0.0.0", "http://127.0.0.1:8765/?token=T"),
    ("::1", "http://[::1]:8765/?token=T"), ("::", "http://[::1]:8765/?token=T")])
def test_the_printed_url_opens_the_console(host, url):
    from embodied_mm.teleop.access import console_url

    assert console_url(host, 8765, "T") == url


def test_an_ipv6_console_serves_its_printed_url():
    s = ConsoleServer(EchoConsole(), TOKEN, host="::1", port=0)
    try:
        s.start()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    try:
        assert _get(s.url)[0] == 200
    finally:
        s.stop()
