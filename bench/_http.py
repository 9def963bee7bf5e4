"""A lean HTTP/1.1 client for load generation: prepared requests over keep-alive.

Not a benchmark itself. A general client (httpx) spends about a millisecond of
CPU per request on this machine, as much as the server spends on a no-op
route: measuring the server with it measures the client. This one sends
request bytes built in advance and reads a response with a ``Content-Length``
(what uvicorn sends for Pouch's JSON), nothing else; anything it does not
understand is an error, never a guess.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping


class HttpError(Exception):
    """The connection failed or the server's answer could not be read."""


def build_request(
    method: str, host: str, target: str, headers: Mapping[str, str], body: bytes = b""
) -> bytes:
    """The bytes of one HTTP/1.1 request (keep-alive)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


#: Idle connections are opened anew after this long: uvicorn closes them after 5 s,
#: and a request written as it does so would be lost.
MAX_IDLE = 4.0


class Connection:
    """One keep-alive connection; ``exchange`` sends a request and reads its answer."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._last_used = 0.0

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """(status, body). Reconnects when the server closed the connection before,
        or may be closing it now."""
        if self._writer is not None and time.monotonic() - self._last_used > MAX_IDLE:
            await self.close()
        if self._writer is None:
            try:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            except OSError as error:
                raise HttpError(f"cannot connect: {error}") from error
        assert self._reader is not None
        try:
            self._writer.write(request)
            head = await self._reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length, close = _framing(head)
            body = await self._reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            await self.close()
            raise HttpError(f"{type(e).__name__}: {e}") from e
        self._last_used = time.monotonic()
        if close:
            await self.close()
        return status, body

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _framing(head: bytes) -> tuple[int, bool]:
    """The body's length, and whether the server closes the connection after it."""
    length: int | None = None
    close = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            raise ValueError(f"unsupported Transfer-Encoding {value.strip()!r}")
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    if length is None:
        raise ValueError("a response without Content-Length")
    return length, close
