"""The simulator served by waitress in a background thread, for tests and in-process demos.

``waitress.server.create_server(...).close()`` called from another thread while ``run()`` sits in
``select`` closes sockets under the loop, which then fails with EBADF (an unhandled thread
exception, which the test suite treats as an error). Here the loop checks a stop flag between
short polls, so it has ended before anything is closed.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from waitress import wasyncore
from waitress.server import TcpWSGIServer, create_server


class ServerThread:
    """``with ServerThread(app) as served: httpx.get(served.url + "/phone")``: a free port by default."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, threads: int = 4, **options: Any) -> None:
        options = {"threads": threads, "ident": "portal-sim", **options}
        self._map: dict[int, Any] = {}  # the server's sockets: the loop below and stop() walk them
        server = create_server(app, map=self._map, host=host, port=port, **options)
        assert isinstance(server, TcpWSGIServer)  # one host and port: one socket, not a MultiSocketServer
        self.server = server
        self.url = f"http://{host}:{server.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="portal-sim", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            wasyncore.loop(timeout=0.05, map=self._map, count=1)

    def stop(self) -> None:
        """End the loop, let the workers finish (up to 5 s), then close every socket."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.server.task_dispatcher.shutdown()
        wasyncore.close_all(self._map)

    def __enter__(self) -> ServerThread:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
