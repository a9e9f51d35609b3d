"""Exact symmetries of the events, declared in a feature spec, that a network may train on.

A rotation about the beam axis shifts every azimuthal angle of an event by the same amount, a mirror
of the transverse plane flips their signs, and exchanging the two beams flips the sign of every
pseudorapidity.  For unpolarised proton-proton collisions none of them changes what signal and
background look like, so a network trained on randomly transformed copies of its events sees new
events every epoch instead of learning the orientation of the ones it has (``dnn: {augment: true}``).
The spec names the columns each one acts on; every other feature must not change under them
(transverse momenta, masses, b-tags and angle differences do not).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from hepml.errors import ConfigError, closest
from hepml.settings import Settings

__all__ = ["Symmetries", "SymmetryColumns"]


@dataclass(frozen=True)
class SymmetryColumns:
    """Where the symmetries act in one feature matrix: column indices."""

    azimuth: tuple[int, ...] = ()
    rapidity: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.azimuth or self.rapidity)


@dataclass(frozen=True)
class Symmetries(Settings):
    """The spec's ``symmetries:`` block (its keys checked like every settings block): the columns
    holding azimuthal angles (rotated together and mirrored) and pseudorapidities (flipped in sign
    together); :meth:`check` then holds them against the spec's columns."""

    what: ClassVar[str] = "symmetries"

    azimuth: tuple[str, ...] = ()  # azimuthal angles: rotated about the beam by one angle, and mirrored
    rapidity: tuple[str, ...] = ()  # pseudorapidities (or rapidities): their signs flipped together

    def check(self, columns: Sequence[str], origin: str) -> None:
        """Each named column is one of the spec's ``columns`` and in one list only."""
        for kind in ("azimuth", "rapidity"):
            for column in getattr(self, kind):
                if column not in columns:
                    raise ConfigError(f"{origin}: symmetries.{kind} names {column!r}, which is no feature column; "
                                      f"closest: {closest(column, list(columns))}")
        both = sorted(set(self.azimuth) & set(self.rapidity))
        if both:
            raise ConfigError(f"{origin}: symmetries: {both[0]!r} is both an azimuthal angle and a pseudorapidity; "
                              "name it in one list")

    def columns(self, names: Sequence[str]) -> SymmetryColumns:
        """The indices of the symmetric columns among ``names`` (a feature group may hold few or none)."""
        return SymmetryColumns(tuple(i for i, n in enumerate(names) if n in self.azimuth),
                               tuple(i for i, n in enumerate(names) if n in self.rapidity))

    def __bool__(self) -> bool:
        return bool(self.azimuth or self.rapidity)
