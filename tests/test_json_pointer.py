"""A JSON pointer (RFC 6901) names exactly the member it was made from, whatever its name."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from deconflict.json_pointer import json_pointer


def _steps(pointer: str) -> list[str]:
    """RFC 6901's own reading of a pointer: split on ``/``, then ``~1`` is ``/`` and ``~0``
    is ``~``, in that order."""
    return [s.replace("~1", "/").replace("~0", "~") for s in pointer.split("/")[1:]]


def test_slash_and_tilde_are_escaped() -> None:
    """The RFC's own examples: ``a/b`` is ``/a~1b``, ``m~n`` is ``/m~0n``; ``~1`` as a name
    is ``/~01`` (``~`` first, or it would read back as ``/``)."""
    assert json_pointer("features", 3, "properties", "start") == "/features/3/properties/start"
    assert json_pointer("a/b") == "/a~1b"
    assert json_pointer("m~n") == "/m~0n"
    assert json_pointer("~1") == "/~01"
    assert json_pointer() == ""
    assert json_pointer("") == "/"


@given(st.lists(st.text() | st.integers(min_value=0)))
def test_a_pointer_reads_back_as_the_steps_it_was_made_from(steps: list[str | int]) -> None:
    assert _steps(json_pointer(*steps)) == [str(step) for step in steps]
