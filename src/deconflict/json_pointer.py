"""JSON pointers (RFC 6901): where in a document an error is, as an error's ``field`` says it.

A member's name may hold any character, a ``/`` or a ``~`` too, and a pointer escapes both (``~``
as ``~0``, then ``/`` as ``~1``), so that each step of a pointer names exactly one member: the
member ``"a/b"`` is ``/a~1b``, never the member ``b`` of ``a``.
"""

from __future__ import annotations

__all__ = ["json_pointer"]


def json_pointer(*steps: str | int) -> str:
    """The pointer to the member ``steps`` name, one key or list index a level:
    ``json_pointer("features", 3, "properties", "start") == "/features/3/properties/start"``;
    no steps, the whole document (``""``)."""
    return "".join("/" + str(step).replace("~", "~0").replace("/", "~1") for step in steps)
