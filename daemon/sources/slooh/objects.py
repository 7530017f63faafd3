"""Object names from Slooh picture titles (``shared/reference/slooh.md`` §7), for ``{object}``.

Titles come as "Common name (designation)" ("Orion Nebula (M42)", "Caldwell 105 (NGC 4833)"),
"descriptor + designation" ("Spiral Galaxy M66", "Quasar 3C273", "LMC N49"), solar-system
names ("Jupiter", "Full Moon", "Sun (Sol)") and bare designations with a trailing space
("Messier 45 ", "NGC 1977 "). The result is one compact, path-safe name: Messier → ``M42``,
``NGC 7000`` → ``NGC7000``, ``IC1805``, other catalogues compacted (``Barnard33``,
``Caldwell62``, ``DCLD301.0-08.6``, ``3C273``, ``LMCN49``), planets and the Moon and Sun by
name, a star's common name ("Spica (Alpha Virginis)" → ``Spica``); ``Unknown`` otherwise.
A designation in parentheses wins over one in the common name ("Caldwell 92 (NGC 3372)" →
``NGC3372``), so one object gets one folder whatever it is called.
"""

from __future__ import annotations

import re

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


def _catalogue(text: str) -> str | None:
    if m := _MESSIER.search(text):
        return f"M{int(m.group(1))}"
    if m := _NGC_IC.search(text):
        return f"{m.group(1).upper()}{m.group(2).upper()}"
    if m := _CATALOGUE.search(text):
        prefix = re.sub(r"\s+", "", m.group(1))
        prefix = prefix.upper() if len(prefix) <= 4 else prefix.capitalize()
        return _SAFE.sub("", f"{prefix}{m.group(2)}").rstrip(".-+")
    if m := _QUASAR.search(text):
        return m.group(1).upper()
    return None


def object_name(title: str | None) -> str:
    """The object of a picture title (see the module docstring); ``Unknown`` when none."""
    text = " ".join((title or "").split())
    if not text:
        return UNKNOWN
    for inner in reversed(_PARENS.findall(text)):  # the designation in parentheses first
        if found := _catalogue(inner):
            return found
    outer = _PARENS.sub(" ", text).strip()
    if found := _catalogue(outer):
        return found
    if m := _BODY.search(outer) or _BODY.search(text):
        return m.group(1).capitalize()
    if _PARENS.search(text) and outer:  # "Spica (Alpha Virginis)": the common name
        return _SAFE.sub("", outer.title()) or UNKNOWN
    return UNKNOWN
