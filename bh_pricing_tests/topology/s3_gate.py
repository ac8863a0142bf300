"""A TCP relay in front of the S3 endpoint that a test can cut, to simulate an S3 outage.

Every process of the stack talks to S3 through the gate. ``cut()`` closes the listening socket and
every open connection, so clients see resets and then "connection refused"; ``cut_on(pattern)``
does the same the moment a request containing ``pattern`` (e.g. ``PUT /bucket/prefix``) passes,
which lands the outage in the middle of a known step. The S3 server keeps its state throughout.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from bh_pricing_tests.topology.processes import free_port


class S3Gate:
    """Relay 127.0.0.1:``port`` to 127.0.0.1:``target_port`` until cut."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.cut_count = 0
        self._pattern: bytes | None = None
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()

    @property
    def url(self) -> str:
        """The endpoint URL clients use."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_open(self) -> bool:
        """True while connections are relayed."""
        return self._listener is not None

    def open(self) -> None:
        """Accept and relay connections (again), disarming any ``cut_on``."""
        with self._lock:
            self._pattern = None
            if self._listener is not None:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            listener.settimeout(0.2)
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Stop listening and reset every open connection."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
            self._pattern = None
            if listener is not None:
                self.cut_count += 1
        if listener is not None:
            listener.close()
        for sock in sockets:
            _close(sock)

    def cut_on(self, pattern: bytes) -> None:
        """Cut as soon as a client sends bytes containing ``pattern`` (it is not relayed)."""
        with self._lock:
            self._pattern = pattern

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                _close(client)
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    _close(client)
                    _close(upstream)
                    return
                self._sockets |= {client, upstream}
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, inspect: bool) -> None:
        try:
            while data := source.recv(65536):
                pattern = self._pattern
                if inspect and pattern is not None and pattern in data:
                    self.cut()
                    return
                sink.sendall(data)
        except OSError:
            pass  # the other side, or cut(), closed the connection: the relay ends either way
        finally:
            with self._lock:
                self._sockets -= {source, sink}
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    # An already disconnected socket refuses shutdown; closing it is all that is left to do.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
