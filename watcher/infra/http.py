"""Outgoing HTTP, wherever the daemon or a command is the client: who it says it is, how
much of an answer it reads (enough to quote an error, never an endless body), and ``watcher
check --connect``'s probe of an HTTP destination (a sink's receiver, an Apprise target, a
heartbeat's monitor), which reaches the host without sending a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from urllib.parse import urlsplit

import aiohttp

from watcher.version import __version__

USER_AGENT = f"watcher/{__version__}"
ANSWER_LIMIT = 4096


async def read_answer(resp: aiohttp.ClientResponse) -> bytes:
    """At most :data:`ANSWER_LIMIT` bytes of an answer, never failing once the status is in
    (a 2xx: only what came with its headers, without waiting for its body); a
    connection whose answer was not read to its end is closed, never reused."""
    content = resp.content
    answer = bytearray()
    try:
        if 200 <= resp.status < 300:
            answer += content.read_nowait(ANSWER_LIMIT)
        else:
            while len(answer) < ANSWER_LIMIT:
                chunk = await content.read(ANSWER_LIMIT - len(answer))
                if not chunk:
                    break
                answer += chunk
    except (TimeoutError, aiohttp.ClientError):
        pass
    if not content.at_eof():
        resp.close()
    return bytes(answer)


async def reaches(url: str, *, within: float = 10.0) -> str:
    """``watcher check --connect`` for an HTTP destination: open a TCP connection to its
    host and port (and complete a verified TLS handshake for https), then close it.
    No request is sent: a test POST would be an event to the receiver.  What was found
    names ``host:port`` only, never the (secret) path or query; OSError if unreachable."""
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if tls else 80)
    except ValueError:
        raise OSError(f"{host}: not a valid port") from None
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(
            host, port, ssl=ssl.create_default_context() if tls else None), within)
    except TimeoutError:
        raise OSError(f"{where}: no connection within {within:g}s (timeout)") from None
    except ssl.SSLCertVerificationError as e:
        raise OSError(f"{where}: TLS error: {e.verify_message}") from None
    except ssl.SSLError as e:
        raise OSError(f"{where}: TLS error: {e.reason or e}") from None
    except socket.gaierror as e:
        raise OSError(f"{host} does not resolve: {e.strerror or e}") from None
    except OSError as e:  # several addresses: "Multiple exceptions: [Errno 111] ..."
        refused = isinstance(e, ConnectionRefusedError) or "refused" in str(e).lower()
        raise OSError(f"{where}: " + ("connection refused" if refused
                                      else (e.strerror or str(e)))) from None
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return f"{where} " + ("reachable, TLS verified" if tls else "reachable") + \
        " (no request sent)"
