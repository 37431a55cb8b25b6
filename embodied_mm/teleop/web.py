"""The console's web server: one page, a websocket, a JSON command endpoint; token required.

Every request (page, websocket, API) must carry the session token — as `?token=…`, an
`Authorization: Bearer …` header, or the cookie the page sets — or it gets 401 (no token) /
403 (wrong token). A `Host` header naming no address or name of this machine (DNS
rebinding) and a browser `Origin` other than the console's own are refused with 403 before
the token is looked at (`access.py`). The server binds to 127.0.0.1 unless a host is given on
purpose. It runs its own asyncio loop in a thread and talks to the console through
`ConsoleApi`.

Websocket protocol: the server sends the console state as JSON text five times a second and
the annotated camera image as binary JPEG; the page sends commands as JSON text
(`{"cmd": "takeover"}`), each answered with `{"reply": {...}}` or `{"reply": {"error": …}}`.
Every message gets a reply: one that is not a command (binary, not JSON, invalid UTF-8, too
deep, a non-finite number) an error naming why, and the connection and the console's state
stay as they were. Over HTTP the same errors are 400 with a JSON `{"error": …}` body.

Example:
    curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8765/api/state
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
from importlib import resources
from typing import Any, Protocol

from aiohttp import WSCloseCode, WSMsgType, web

from embodied_mm.teleop.access import (
    MIN_TOKEN,
    BadCommand,
    console_url,
    decode_command,
    host_allowed,
    same_origin,
)

COOKIE = "embodied_mm_token"
PUSH_S = 0.2  # state and image push period
SHUTDOWN_S = 2.0  # how long a stopping server waits for requests still being handled
log = logging.getLogger(__name__)


class ConsoleApi(Protocol):
    """What the server needs from the console."""

    def snapshot(self) -> dict[str, Any]: ...

    def frame_jpeg(self) -> bytes | None: ...

    def run_command(self, command: dict[str, Any]) -> dict[str, Any]: ...

    def pages_closed(self) -> None:
        """The last open page's websocket has closed (tab closed, network lost)."""


class ConsoleServer:
    """Serves the console on `host:port` (port 0 = any free port) in a background thread."""

    def __init__(self, console: ConsoleApi, token: str, host: str = "127.0.0.1",
                 port: int = 8765) -> None:
        if len(token) < MIN_TOKEN:
            raise ValueError(f"the access token must have at least {MIN_TOKEN} characters")
        self.console, self.token, self.host, self.port = console, token, host, port
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.bound: tuple[str, int] | None = None
        self._pages: set[web.WebSocketResponse] = set()  # open now (server's loop only)
        self._stopping = False  # pages closed by our own shutdown are not an operator leaving
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._page = resources.files("embodied_mm.teleop").joinpath(
            "static/console.html").read_text(encoding="utf-8")

    @property
    def url(self) -> str:
        """The page's address with the token (what the operator opens): for a terminal only,
        never for a log or a topic."""
        return console_url(self.host, self.port, self.token)

    def start(self) -> None:
        """Binds and starts serving; raises OSError naming the address when it is taken."""
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        except OSError as err:
            self._loop.call_soon_threadsafe(self._loop.stop)
            raise OSError(f"cannot serve the console on {self.host}:{self.port} "
                          f"({err.strerror or err}); choose another port") from None

    def stop(self) -> None:
        """Closes the open pages' websockets, stops serving and ends the server's thread."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(
                SHUTDOWN_S + 5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _start(self) -> None:
        app = web.Application(middlewares=[self._auth])
        app.on_shutdown.append(self._close_pages)
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/api/state", self._state)
        app.router.add_get("/api/frame.jpg", self._frame)
        app.router.add_post("/api/command", self._command)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_S)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        # The address really bound (the port is a free one when 0 was asked for).
        self.bound = tuple(self._runner.addresses[0][:2])
        self.port = self.bound[1]

    # -- auth ----------------------------------------------------------------------------------
    @web.middleware
    async def _auth(self, request: web.Request, handler):
        if not host_allowed(request.headers.get("Host")):
            raise web.HTTPForbidden(text="unexpected Host header: open the console by this "
                                         "machine's address or name")
        if not same_origin(request.headers.get("Origin"), request.headers.get("Host")):
            raise web.HTTPForbidden(text="cross-origin request refused")
        given = request.query.get("token") or request.cookies.get(COOKIE)
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            given = header[len("Bearer "):]
        if not given:
            raise web.HTTPUnauthorized(text="access token required (see the console's log)")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise web.HTTPForbidden(text="wrong access token")
        return await handler(request)

    # -- handlers ------------------------------------------------------------------------------
    async def _index(self, request: web.Request) -> web.Response:
        response = web.Response(text=self._page, content_type="text/html")
        response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
        response.headers["Cache-Control"] = "no-store"
        return response

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response(self.console.snapshot())

    async def _frame(self, request: web.Request) -> web.Response:
        jpeg = await asyncio.to_thread(self.console.frame_jpeg)
        if jpeg is None:
            raise web.HTTPServiceUnavailable(text="no camera image yet")
        return web.Response(body=jpeg, content_type="image/jpeg")

    async def _command(self, request: web.Request) -> web.Response:
        _, reply = await self._reply(await request.read())
        return web.json_response(reply, status=400 if "error" in reply else 200)

    async def _reply(self, data: str | bytes) -> tuple[str | None, dict[str, Any]]:
        """(command name, the console's answer) for one page message: an error reply for
        anything that is not a command or that the console could not carry out."""
        try:
            command = decode_command(data)
        except BadCommand as err:
            return None, {"error": str(err)}
        try:
            return command["cmd"], await asyncio.to_thread(self.console.run_command, command)
        except Exception as err:  # a console bug must not end the page's connection
            log.exception("console command %r failed", command["cmd"])
            return command["cmd"], {"error": f"{command['cmd']!r} failed: "
                                             f"{type(err).__name__}"}

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=10.0)
        await ws.prepare(request)
        pusher = asyncio.create_task(self._push(ws))
        self._pages.add(ws)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    cmd, reply = await self._reply(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    cmd, reply = None, {"error": "commands are JSON text messages, not binary"}
                else:
                    continue
                await ws.send_str(json.dumps({"reply": reply, "cmd": cmd}))
        finally:
            pusher.cancel()
            self._pages.discard(ws)
            if not self._pages and not self._stopping:  # nobody is watching any more
                await asyncio.to_thread(self.console.pages_closed)
        return ws

    async def _close_pages(self, app: web.Application) -> None:
        """On shutdown: an open page would otherwise hold the server for `SHUTDOWN_S`."""
        self._stopping = True
        for ws in list(self._pages):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"console shutting down")

    async def _push(self, ws: web.WebSocketResponse) -> None:
        while not ws.closed:
            await ws.send_str(json.dumps({"state": self.console.snapshot()}))
            jpeg = await asyncio.to_thread(self.console.frame_jpeg)
            if jpeg is not None:
                await ws.send_bytes(jpeg)
            await asyncio.sleep(PUSH_S)
