"""A remote command answered before the hub checked the party's own latest filings says so on
standard error (``Deconflict-Detection: pending``, docs/api.md), and the Python client keeps
the header's word for its last answer. The hub is a stand-in answering as the API does."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import deconflict.client
from deconflict.cli.backends import PENDING_NOTE
from deconflict.cli.main import main
from deconflict.client import DETECTION_HEADER, Client


def _hub(pending: list[bool]) -> httpx.MockTransport:
    """Answers every request with no conflicts, marked pending as ``pending`` says, in turn."""

    def answer(request: httpx.Request) -> httpx.Response:
        headers = {DETECTION_HEADER: "pending"} if pending.pop(0) else {}
        return httpx.Response(200, json=[], headers=headers)

    return httpx.MockTransport(answer)


def test_the_client_keeps_the_word_of_its_last_answer() -> None:
    with Client("http://hub", "token", transport=_hub([True, False])) as client:
        assert client.detection_pending is False  # nothing asked yet
        assert client.conflicts() == []
        assert client.detection_pending is True
        client.conflicts()
        assert client.detection_pending is False


@pytest.mark.parametrize("pending", [True, False])
def test_a_remote_command_notes_pending_detection(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], pending: bool
) -> None:
    real = Client

    def client(url: str, token: str | None = None, **options: Any) -> Client:
        return real(url, token, transport=_hub([pending]))

    monkeypatch.setattr(deconflict.client, "Client", client)
    code = main(["conflicts", "--url", "http://hub", "--token", "t"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert (PENDING_NOTE in err) is pending
    assert PENDING_NOTE not in out  # the listing itself stays what it is
