"""The all-pairs sweep shared out to forked processes finds the pairs one process finds, and a
part that fails or a process that dies fails the whole, leaving no process behind."""

from __future__ import annotations

import os
import re

import pytest

from benchmarks import data
from deconflict.engine import VolumeIndex
from deconflict.engine.rule import SeparationMinima

#: More than two chunks of the sweep (4,096 volumes each), in one busy day.
_ENTRIES = data.generate(9_000, seed=4, span_s=86_400.0)


def _pairs(found) -> set[frozenset[str]]:
    return {frozenset((a.key, b.key)) for a, b in found}


def test_two_processes_find_the_pairs_one_finds() -> None:
    index = VolumeIndex(_ENTRIES)
    alone = index.all_pairs(data.MINIMA)
    shared = index.all_pairs(data.MINIMA, processes=2)
    assert len(alone) > 1_000  # not vacuous
    assert len(shared) == len(alone)
    assert _pairs(shared) == _pairs(alone)


def test_pair_minima_are_asked_in_every_process() -> None:
    """A pair of parties left unchecked is left unchecked by every part."""
    index = VolumeIndex(_ENTRIES)

    def rule(a: str, b: str) -> SeparationMinima | None:
        return None if {a, b} == {"p0", "p1"} else data.MINIMA

    shared = index.all_pairs(data.MINIMA, rule, processes=3)
    assert _pairs(shared) == _pairs(index.all_pairs(data.MINIMA, rule))
    assert not any({a.party, b.party} == {"p0", "p1"} for a, b in shared)


@pytest.mark.parametrize("fate", ["raises", "dies"])
def test_a_part_that_fails_fails_the_whole(fate: str) -> None:
    index = VolumeIndex(_ENTRIES)
    parent = os.getpid()

    def rule(a: str, b: str) -> SeparationMinima | None:
        if os.getpid() != parent:
            if fate == "dies":
                os._exit(3)
            raise ValueError("no minima here")
        return data.MINIMA

    message = "died (exit 3)" if fate == "dies" else "failed: ValueError: no minima here"
    with pytest.raises(RuntimeError, match=re.escape(message)):
        index.all_pairs(data.MINIMA, rule, processes=2)
    import multiprocessing

    assert multiprocessing.active_children() == []
