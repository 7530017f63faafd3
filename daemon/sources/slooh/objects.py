"""Object names from Slooh picture titles (``shared/reference/slooh.md`` §7), for ``{object}``.

Titles come as "Common name (designation)" ("Orion Nebula (M42)", "Caldwell 105 (NGC 4833)"),
"descriptor + designation" ("Spiral Galaxy M66", "Quasar 3C273", "LMC N49"), solar-system
names ("Jupiter", "Full Moon", "Sun (Sol)") and bare designations with a trailing space
("Messier 45 ", "NGC 1977 "). The result is one compact, path-safe name: Messier → ``M42``,
``NGC 7000`` → ``NGC7000``, ``IC1805``, other catalogues compacted (``Barnard33``,
``Caldwell62``, ``DCLD301.0-08.6``, ``3C273``, ``LMCN49``), planets and the Moon and Sun by
name, a star's common name ("Spica (Alpha Virginis)" → ``Spica``); ``Unknown`` (or the
source's ``unknown_object``) otherwise. A designation in parentheses wins over one in the
common name, Caldwell numbers become their NGC/IC designation ("Caldwell 92" and "Caldwell 92
(NGC 3372)" → ``NGC3372``), and common names of Messier, Caldwell and other bright NGC/IC
objects are looked up in ``data/object_names.csv`` ("Orion Nebula" → ``M42``, "Eta Carinae
Nebula" → ``NGC3372``; sources named in the file), so one object gets one folder whatever
the title calls it.
"""

from __future__ import annotations

import csv
import re
from functools import cache
from importlib import resources

UNKNOWN = "Unknown"
_MESSIER = re.compile(r"\b(?:M|Messier)\s*(\d{1,3})\b", re.I)
_NGC_IC = re.compile(r"\b(NGC|IC)\s*(\d{1,5}[A-Z]?)\b", re.I)
_CATALOGUE = re.compile(
    r"\b(Caldwell|Barnard|Abell|Arp|Mel(?:otte)?|Collinder|Cr|Sh2|Sharpless|PGC|UGC|SAO|Dunlop|DCLD|"
    r"vdB|LDN|LBN|Stock|Trumpler|LMC\s*N|SMC\s*N|HD|HIP)\s*-?\s*(\d[\d.+\-]*[A-Z]?)", re.I)
_QUASAR = re.compile(r"\b(\d?C\d{2,4}(?:\.\d)?)\b")  # 3C273
_BODIES = ("Sun", "Mercury", "Venus", "Moon", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune", "Pluto")
_BODY = re.compile(r"\b(" + "|".join(_BODIES) + r")\b", re.I)
_PARENS = re.compile(r"\(([^()]*)\)")
_SAFE = re.compile(r"[^A-Za-z0-9.+\-]")


def _designation(text: str) -> str | None:
    if m := _MESSIER.search(text):
        return f"M{int(m.group(1))}"
    if m := _NGC_IC.search(text):
        return f"{m.group(1).upper()}{m.group(2).upper()}"
    if m := _CATALOGUE.search(text):
        prefix = re.sub(r"\s+", "", m.group(1))
        if prefix.lower() == "caldwell" and (mapped := _tables()[1].get(m.group(2).rstrip(".-+"))):
            return mapped
        prefix = prefix.upper() if len(prefix) <= 4 else prefix.capitalize()
        return _SAFE.sub("", f"{prefix}{m.group(2)}").rstrip(".-+")
    if m := _QUASAR.search(text):
        return m.group(1).upper()
    return None


def _normal(name: str) -> str:
    """Lower case, no apostrophes, hyphens as spaces, single spaces: how names are compared."""
    name = name.lower().replace("\u2019", "'").replace("'", "").replace("-", " ")
    return " ".join(name.split())


@cache
def _tables() -> tuple[dict[str, str], dict[str, str], re.Pattern[str]]:
    """(normalised common name → designation, Caldwell number → designation, a pattern
    finding the longest known name in a normalised title)."""
    names: dict[str, str] = {}
    caldwell: dict[str, str] = {}
    text = resources.files("daemon.sources.slooh").joinpath("data/object_names.csv").read_text("utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    for row in rows:
        designation = row["designation"].strip()
        # the form a bare designation in a title takes ("Sh2-155" → SH2155); Caldwell99 as is
        canonical = designation if designation.startswith("Caldwell") else _designation(designation)
        canonical = canonical or designation
        table = names if row["kind"] == "name" else caldwell
        key = _normal(row["key"]) if row["kind"] == "name" else row["key"].strip()
        if key in table:
            raise ValueError(f"object_names.csv lists {row['key']!r} twice")
        table[key] = canonical
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return names, caldwell, re.compile(rf"(?<![a-z0-9])({alternatives})(?![a-z0-9])")


def _common_name(text: str) -> str | None:
    names, _caldwell, pattern = _tables()
    m = pattern.search(_normal(text))
    return names[m.group(1)] if m else None


def object_name(title: str | None, unknown: str = UNKNOWN) -> str:
    """The object of a picture title (see the module docstring); ``unknown`` when none."""
    text = " ".join((title or "").split())
    if not text:
        return unknown
    for inner in reversed(_PARENS.findall(text)):  # the designation in parentheses first
        if found := _designation(inner):
            return found
    outer = _PARENS.sub(" ", text).strip()
    if found := _designation(outer) or _common_name(outer) or _common_name(text):
        return found
    if m := _BODY.search(outer) or _BODY.search(text):
        return m.group(1).capitalize()
    if _PARENS.search(text) and outer:  # "Spica (Alpha Virginis)": the common name
        return _SAFE.sub("", outer.title()) or unknown
    return unknown
