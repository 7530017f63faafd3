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
    ("Caldwell 62 ", "NGC247"),  # a Caldwell number is filed under its NGC/IC designation
    ("IC 1788 ", "IC1788"),
    ("Eta Carinae Nebula (NGC 3372)", "NGC3372"),
    ("Caldwell 92 (NGC 3372)", "NGC3372"),  # one object, one folder, whatever the title
    ("Running Man Nebula (NGC 1977)", "NGC1977"),
    ("Pleiades (M45)", "M45"),
    ("", "Unknown"),
    ("   ", "Unknown"),
    (None, "Unknown"),
    ("Something we cannot name", "Unknown"),
    # issue 17: common names alone (the same object as with its designation)
    ("Orion Nebula", "M42"),
    ("The Orion Nebula", "M42"),
    ("Great Orion Nebula", "M42"),
    ("Eta Carinae Nebula", "NGC3372"),
    ("Carina Nebula", "NGC3372"),
    ("Caldwell 92", "NGC3372"),
    ("Bode’s Galaxy", "M81"),  # typographic apostrophe
    ("Bodes Galaxy", "M81"),
    ("Whirlpool Galaxy in LRGB", "M51"),
    ("Ghost of Jupiter", "NGC3242"),  # a name wins over the planet in it
    ("Horsehead Nebula", "Barnard33"),  # as "Horsehead Nebula (Barnard 33)"
    ("Cave Nebula", "SH2155"),
    ("Sh2-155", "SH2155"),
    ("Caldwell 9", "SH2155"),
    ("Large Magellanic Cloud", "LMC"),
    ("Omega Centauri", "NGC5139"),
    ("Andromeda Galaxy (M31)", "M31"),
    ("Pinwheel Galaxy", "M101"),
    ("Pinwheel Cluster", "M36"),
])
def test_object_names_from_real_titles(title, expected):
    assert object_name(title) == expected


def test_unknown_object_is_configurable():
    assert object_name("Something we cannot name", "Unidentified") == "Unidentified"
    assert object_name(None, "Unidentified") == "Unidentified"
    assert object_name("Orion Nebula", "Unidentified") == "M42"


def test_every_common_name_and_caldwell_number_resolves_to_one_designation():
    from daemon.sources.slooh.objects import _tables

    names, caldwell, _pattern = _tables()
    assert len(caldwell) == 109 and set(caldwell) == {str(n) for n in range(1, 110)}
    assert len(names) >= 120
    for name, designation in names.items():  # each name alone files under its designation
        assert object_name(name) == designation, name
    for number, designation in caldwell.items():
        assert object_name(f"Caldwell {number}") == designation
        assert object_name(f"C{number} (Caldwell {number})") == designation


def test_unknown_object_reaches_the_layout_from_the_config(tmp_path):
    from daemon.config.load import load_config
    from daemon.library.paths import place
    from daemon.sources.slooh.records import picture_item

    path = tmp_path / "c.toml"
    path.write_text('[sources.s]\nkind = "slooh"\nusername = "u"\npassword = "p"\n'
                    'unknown_object = "Unidentified"\n')
    cfg = load_config(path, env={})
    src = cfg.sources["s"]
    record = {"imageId": 7, "imageDownloadURL": "https://polaris2.slooh.com/a/b/pic.png",
              "imageTitle": "My target", "telescopeName": "Canary Two"}
    item = place(picture_item("s", src.layout, record, (), src.unknown_object), "s")
    assert item is not None and item.path.startswith("Unidentified/Canary Two/")
    record["imageTitle"] = "Orion Nebula"
    item = place(picture_item("s", src.layout, record, (), src.unknown_object), "s")
    assert item is not None and item.path.startswith("M42/")
