"""Who may talk to the operator console, and what a well-formed command is.

- The access token travels in a file only its owner can read (mode 0600), never on a command
  line, in a ROS parameter, a log or a topic: `write_token_file` / `read_token_file`.
- `console_url` is the address to open for the address the server binds (`0.0.0.0` and `::`
  listen everywhere: the page is opened at the loopback address; IPv6 gets brackets).
- `host_allowed` / `same_origin` refuse requests whose `Host` is a name this machine does not
  answer to (DNS rebinding) and browser requests from another origin (cross-site websockets).
- `decode_command` turns a page message into a command dict or raises `BadCommand` with the
  reason: invalid UTF-8, not JSON, nesting deeper than `MAX_DEPTH`, non-finite or huge numbers.

Example:
    >>> console_url("::1", 8765, "t" * 16)
    'http://[::1]:8765/?token=tttttttttttttttt'
    >>> decode_command('{"cmd": "scene", "seed": 1e400}')
    Traceback (most recent call last):
    ...
    embodied_mm.teleop.access.BadCommand: numbers must be finite, got 1e400
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import secrets
import socket
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MIN_TOKEN = 16  # characters
MAX_DEPTH = 4  # page commands are flat objects holding at most a list of numbers
MAX_DIGITS = 30  # an integer literal longer than this is refused before Python parses it
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


class BadCommand(ValueError):
    """A page message that is not a command; the text says why (sent back to the page)."""


def new_token() -> str:
    """A random access token (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def write_token_file(path: str | Path, token: str) -> Path:
    """Writes `token` to a new file readable by its owner only (0600); returns the path."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    return path


def read_token_file(path: str | Path) -> str:
    """The token in `path`; raises ValueError naming the file when it is missing, readable by
    others (group/world bits set) or holds a token shorter than `MIN_TOKEN`."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        token = path.read_text().strip()
    except OSError as err:
        raise ValueError(f"cannot read the console token file {path}: {err.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError(f"the console token file {path} is readable by others "
                         f"(mode {stat.S_IMODE(mode):o}); chmod 600 it")
    if len(token) < MIN_TOKEN:
        raise ValueError(f"the token in {path} has fewer than {MIN_TOKEN} characters")
    return token


def local_address(host: str) -> str:
    """Where this machine reaches a server bound to `host` (loopback for a wildcard)."""
    return {"::": "::1"}.get(host, "127.0.0.1") if host in WILDCARD_HOSTS else host


def console_url(host: str, port: int, token: str | None = None) -> str:
    """The page's address for a server bound to `host:port`; with `?token=` when given."""
    host = local_address(host)
    shown = f"[{host}]" if ":" in host else host
    query = f"?token={token}" if token else ""
    return f"http://{shown}:{port}/{query}"


def exposed(host: str) -> bool:
    """Whether a server bound to `host` is reachable from other machines."""
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, or "" (every interface)
        return host not in ("localhost",)


def _host_name(host_header: str) -> str:
    """`example:8765` -> `example`, `[::1]:8765` -> `::1`; lower case."""
    return (urlsplit(f"//{host_header}").hostname or "").lower()


def host_allowed(host_header: str | None) -> bool:
    """A `Host` header naming an IP address, localhost or this machine's own names.

    Any other name could be an attacker's domain re-bound to this address (DNS rebinding), so
    a page served from it must not reach the console even though the browser calls it
    same-origin."""
    if not host_header:
        return False
    name = _host_name(host_header)
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    own = {"localhost", socket.gethostname().lower(), socket.getfqdn().lower()}
    return name in own


def same_origin(origin: str | None, host_header: str | None) -> bool:
    """True when the request has no `Origin` (not a browser page: it needs the token anyway)
    or its `Origin` is the console's own `http://HOST` address."""
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.scheme == "http" and bool(host_header) and \
        parts.netloc.lower() == host_header.lower()


def _finite(text: str) -> float:
    value = float(text)  # also "NaN" and "Infinity", which JSON's parser lets through
    if not math.isfinite(value):
        raise BadCommand(f"numbers must be finite, got {text[:40]}")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise BadCommand(f"integer too long ({len(text)} digits; at most {MAX_DIGITS})")
    return int(text)


def _depth(value: Any, limit: int) -> None:
    if limit < 0:
        raise BadCommand(f"a command nests at most {MAX_DEPTH} levels deep")
    children = value.values() if isinstance(value, dict) else value if isinstance(
        value, list) else ()
    for child in children:
        _depth(child, limit - 1)


def _nesting_ok(text: str) -> bool:
    """A bound on bracket depth (outside strings) before parsing: JSON's parser recurses once
    per level and a deep enough message would end in RecursionError."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH + 1:
                return False
        elif char in "]}":
            depth -= 1
    return True


def decode_command(data: str | bytes) -> dict[str, Any]:
    """A page message (websocket text or HTTP body) as `{"cmd": str, ...}`.

    Raises:
        BadCommand: why the message is not a command.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise BadCommand(f"a command must be UTF-8 text (bad byte at {err.start})") from None
    if not _nesting_ok(data):
        raise BadCommand(f"a command nests at most {MAX_DEPTH} levels deep")
    try:
        command = json.loads(data, parse_float=_finite, parse_int=_bounded_int,
                             parse_constant=_finite)
    except BadCommand:
        raise
    except ValueError as err:
        raise BadCommand(f"not JSON: {str(err)[:80]}") from None
    if not isinstance(command, dict) or not isinstance(command.get("cmd"), str):
        raise BadCommand('a command is a JSON object with a "cmd" string')
    _depth(command, MAX_DEPTH)
    return command
