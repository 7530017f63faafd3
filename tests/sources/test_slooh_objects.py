"""Object names from real Slooh titles (shared/reference/slooh.md §7)."""

from __future__ import annotations

import pytest

from daemon.sources.slooh.objects import object_name


@pytest.mark.parametrize(("title", "expected"), [
    ("Orion Nebula (M42)", "M42"),
    ("Caldwell 105 (NGC 4833)", "NGC4833"),
    ("Horsehead Nebula (Barnard 33)", "Barnard33"),
    ("Dark Doodad Nebula (DCLD 301.0-08.6)", "DCLD301.0-08.6"),
    ("Spica (Alpha Virginis)", "Spica"),
    ("Jupiter's Moons (Galilean Satellites)", "Jupiter"),
    ("Veil Nebula (West) (NGC 6960)", "NGC6960"),
    ("Spiral Galaxy M66", "M66"),
    ("Bode's Galaxy M81", "M81"),
    ("Globular Star Cluster M4", "M4"),
    ("Quasar 3C273", "3C273"),
    ("LMC N49", "LMCN49"),
    ("Jupiter", "Jupiter"),
    ("Full Moon", "Moon"),
    ("Saturn", "Saturn"),
    ("Sun (Sol)", "Sun"),
    ("Messier 45 ", "M45"),
    ("NGC 1977 ", "NGC1977"),
    ("Caldwell 62 ", "Caldwell62"),
    ("IC 1788 ", "IC1788"),
    ("Eta Carinae Nebula (NGC 3372)", "NGC3372"),
    ("Caldwell 92 (NGC 3372)", "NGC3372"),  # one object, one folder, whatever the title
    ("Running Man Nebula (NGC 1977)", "NGC1977"),
    ("Pleiades (M45)", "M45"),
    ("", "Unknown"),
    ("   ", "Unknown"),
    (None, "Unknown"),
    ("Something we cannot name", "Unknown"),
])
def test_object_names_from_real_titles(title, expected):
    assert object_name(title) == expected
