"""A party's event stream read live in a test, with its opening as a signal: what a test files
after :meth:`LiveStream.__enter__` returns reaches the stream as it happens, so a test waits for
the event itself, never for time to pass."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
from collections.abc import Callable, Collection
from typing import Any

import httpx

Data = dict[str, Any]


class LiveStream:
    """``GET /v1/events`` as ``token``'s party, read on a thread of its own; each event's data
    goes to a queue. Entered once the server's first bytes (its ``retry:`` line) have arrived."""

    def __init__(self, url: str, token: str, open_timeout_s: float = 30.0) -> None:
        self._url, self._token, self._open_timeout_s = url, token, open_timeout_s
        self._events: queue.Queue[tuple[str, Data]] = queue.Queue()
        #: the id of the event :meth:`next` returned last (for ``Last-Event-ID``)
        self.last_event_id = ""
        self._opened = threading.Event()
        self._closing = threading.Event()
        self._failed: list[BaseException] = []
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> LiveStream:
        self._thread.start()
        if not self._opened.wait(self._open_timeout_s):
            raise AssertionError(f"the event stream did not open: {self._failed!r}")
        return self

    def __exit__(self, *_: object) -> None:
        """Close the connection (the server, ending, waits for none) and end the reader."""
        self._closing.set()
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=30)

    def next(self, wanted: Callable[[Data], bool], timeout_s: float = 10.0) -> Data:
        """The first event whose data ``wanted`` accepts (those before it are passed over);
        ``timeout_s`` bounds a stream that never brings it, it is not a figure under test."""
        while True:
            try:
                event_id, data = self._events.get(timeout=timeout_s)
            except queue.Empty:
                raise AssertionError(f"no such event came: {self._failed!r}") from None
            if wanted(data):
                self.last_event_id = event_id
                return data

    def notice(self, notice_id: str, timeout_s: float = 10.0) -> Data:
        """The first event about notice ``notice_id``."""
        return self.next(lambda data: data.get("notice_id") == notice_id, timeout_s)

    def notices(self, notice_ids: Collection[str], timeout_s: float = 10.0) -> list[Data]:
        """The first event about each of ``notice_ids``, in the order they came: those one
        detection pass tells come in an order of the hub's (``ledger.unlinked``), not in their
        filing order."""
        left, found = set(notice_ids), []
        while left:
            data = self.next(lambda data: data.get("notice_id") in left, timeout_s)
            left.discard(data["notice_id"])
            found.append(data)
        return found

    def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self._token}"}
        timeout = httpx.Timeout(30.0, read=None)
        try:
            with (
                httpx.Client(base_url=self._url, headers=headers, timeout=timeout) as http,
                http.stream("GET", "/v1/events") as response,
            ):
                response.raise_for_status()
                stream = response.extensions["network_stream"]
                self._socket = stream.get_extra_info("socket")
                event_id, data = "", []
                for line in response.iter_lines():
                    self._opened.set()
                    if self._closing.is_set():
                        return
                    if line.startswith("id: "):
                        event_id = line[len("id: ") :]
                    elif line.startswith("data: "):
                        data.append(line[len("data: ") :])
                    elif not line and data:
                        self._events.put((event_id, json.loads("\n".join(data))))
                        event_id, data = "", []
        except BaseException as error:  # reported by __enter__ or next(), on the test's thread
            if not self._closing.is_set():
                self._failed.append(error)
