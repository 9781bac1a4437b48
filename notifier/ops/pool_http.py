"""An HTTP server for the operations endpoint that idle or slow clients cannot exhaust.

``ThreadingHTTPServer`` spends a thread per connection for as long as the client keeps it open, with
no timeout: 300 idle connections were 302 threads. Here one thread watches every connection with a
selector and reads each request head itself (non-blocking); only a complete head goes to a small,
fixed pool of threads that answers it. So:

- an idle or dribbling connection costs a file descriptor, not a thread, and is closed when its
  request head is not complete ``request_timeout_s`` after it connected;
- at most ``max_connections`` are open; past that the oldest waiting one is closed for a new one;
- a head over ``MAX_HEAD`` bytes is refused;
- a handler writes its answer with a socket timeout, so a client that does not read cannot hold a
  pool thread for long.

Requests are HTTP/1.0 style (one per connection), which is all ``/healthz``, ``/readyz`` and
``/metrics`` need. The handler is an ordinary ``BaseHTTPRequestHandler`` subclass.
"""

from __future__ import annotations

import contextlib
import io
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

MAX_HEAD = 8192


class _FromHead(BaseHTTPRequestHandler):
    """Reads the request from the head the server already has, writes to the socket."""

    def setup(self) -> None:
        connection, head = self.request
        self.connection = connection
        connection.settimeout(self.timeout)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = io.BytesIO(head)
        self.wfile = connection.makefile("wb")


@dataclass
class _Waiting:
    address: Any
    deadline: float
    head: bytearray = field(default_factory=bytearray)


class PooledHTTPServer:
    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler], *, name: str, workers: int = 4,
                 max_connections: int = 1024, request_timeout_s: float = 5.0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, port), family=family, backlog=512)
        self._listener.setblocking(False)
        self._handler = type(f"Pooled{handler.__name__}", (_FromHead, handler), {"timeout": request_timeout_s})
        self._request_timeout_s = request_timeout_s
        self._max_connections = max_connections
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{name}-worker")
        self._selector = selectors.DefaultSelector()
        self._waiting: dict[socket.socket, _Waiting] = {}
        self._busy = 0
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    @property
    def host(self) -> str:
        return str(self._listener.getsockname()[0])

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def start(self) -> None:
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        for conn in list(self._waiting):
            self._close(conn)
        self._selector.close()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.25):
                if key.fileobj is self._listener:
                    self._accept()
                elif key.fileobj is self._wake_r:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(64)
                else:
                    self._read(key.fileobj)  # type: ignore[arg-type]
            now = time.monotonic()
            for conn in [c for c, w in self._waiting.items() if w.deadline <= now]:
                self._close(conn)

    def _accept(self) -> None:
        for _ in range(256):
            try:
                conn, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of file descriptors, say: let the backlog wait
                return
            with self._lock:
                full = len(self._waiting) + self._busy >= self._max_connections
            if full and self._waiting:
                self._close(min(self._waiting, key=lambda c: self._waiting[c].deadline))
            elif full:
                conn.close()
                continue
            conn.setblocking(False)
            self._waiting[conn] = _Waiting(address, time.monotonic() + self._request_timeout_s)
            self._selector.register(conn, selectors.EVENT_READ)

    def _read(self, conn: socket.socket) -> None:
        waiting = self._waiting[conn]
        try:
            data = conn.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        waiting.head += data
        if not data or len(waiting.head) > MAX_HEAD:
            self._close(conn)
            return
        if b"\r\n\r\n" not in waiting.head and b"\n\n" not in waiting.head:
            return
        self._selector.unregister(conn)
        del self._waiting[conn]
        with self._lock:
            self._busy += 1
        conn.setblocking(True)
        self._pool.submit(self._answer, conn, waiting.address, bytes(waiting.head))

    def _answer(self, conn: socket.socket, address: Any, head: bytes) -> None:
        try:
            self._handler((conn, head), address, self)
        except Exception:  # noqa: S110 - a client that went away mid-answer
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
            with self._lock:
                self._busy -= 1

    def _close(self, conn: socket.socket) -> None:
        self._waiting.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn)
        conn.close()
