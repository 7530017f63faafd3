"""Camera and film/sensor codes of the NASA Earth Observations database, in words.

Source: ``shared/reference/nasa_eol.md`` §4.1–4.2 (the descriptions match the site's TSV
exports verbatim for the digital cameras and sensors). Unknown codes are kept verbatim:
:func:`camera_description` and :func:`film_description` return None for them and the
caller stores the code alone.
"""

from __future__ import annotations

CAMERAS: dict[str, str] = {
    "AA": "Ansco Autoset",
    "C1": "Canon Digital IXUS 700",
    "DV": "Sony HDW-700 HDTV (High Definition Television)",
    "E2": "Kodak DCS460 Electronic Still Camera",
    "E3": "Kodak DCS660 Electronic Still Camera",
    "E4": "Kodak DCS760c Electronic Still Camera",
    "HB": "Hasselblad",
    "LH": "Linhof",
    "MA": "Maurer model 220G",
    "MS": "Maurer with Xenotar 80mm f/2.8 lens",
    "N1": "Nikon D1 Electronic Still Camera",
    "N2": "Nikon D2Xs Electronic Still Camera",
    "N3": "Nikon D3 Electronic Still Camera",
    "N4": "Nikon D3X Electronic Still Camera",
    "N5": "Nikon D3S Electronic Still Camera",
    "N6": "Nikon D4 Electronic Still Camera",
    "N7": "Nikon D800E Electronic Still Camera",
    "N8": "Nikon D5 Electronic Still Camera",
    "N9": "Nikon D850 Electronic Still Camera",
    "NA": "Nikon D6 Electronic Still Camera",
    "NB": "Nikon Z9 Electronic Still Camera",
    "NK": "Nikon 35mm film camera",
    "RX": "Rolleiflex",
    "SA": "Skylab Multispectral (S190A)",
    "SB": "Skylab Earth Terrain (S190B)",
}

# digital sensors ("E" = electronic, "I" = interlaced video)
_SENSORS: dict[str, str] = {
    "1035I": "Sony HDW-700 Digital HDTV camcorder, 15x zoom lens, 1920 x 1035 interlaced",
    "2000E": "2000 x 1312 pixel CCD, RGBG imager color filter",
    "3060E": "3060 x 2036 pixel CCD, RGBG array",
    "3072E": "3072 x 2304 pixels largest option, 1/1.8\" CCD, ~7.1M pixels, Primary Color filter type",
    "4256E": "4256 x 2832 pixel CMOS sensor, 36.0mm x 23.9mm, total pixels: 12.87 million, Nikon FX format",
    "4288E": "4288 x 2848 pixel CMOS sensor, RGBG imager color filter",
    "4928E": "4928 x 3280 pixel CMOS sensor, 36.0mm x 23.9mm, total pixels: 16.6 million, Nikon FX format",
    "5568E": "5568 x 3712 pixel CMOS sensor, 35.9 x 23.9 mm, total pixels: 21.33 million, Nikon FX format",
    "6048E": "6048 x 4032 pixel CMOS sensor, 35.9mm x 24.0mm, total pixels: 25.72 million, Nikon FX format",
    "6144E": "19.4 megapixel CMOS, 6144 x 3160 effective pixels, 30.7 mm x 15.8 mm (diagonal: 34.5 mm)",
    "7360E": "7360 x 4912 pixel CMOS sensor, 35.9mm x 24.0mm, total pixels: 36.8 million, Nikon FX format",
    "8256E": "8256 x 5504 pixel CMOS sensor, 35.9mm x 23.9mm, total pixels: 46.89 million, Nikon FX format",
}

_FILM_KINDS = {
    "neg": "color negative film",
    "pos": "color positive (slide) film",
    "bw": "black-and-white film",
    "bwir": "black-and-white infrared film",
    "cir": "color infrared film",
    "unspecified": "film, type unspecified",
}
_FILMS: dict[str, tuple[str, str]] = {  # code → (kind, name where the reference gives one)
    "2041": ("neg", "Kodak Pro PMZ 1000"), "2106": ("neg", ""), "2402": ("bw", "Kodak Plus-X"),
    "2415": ("bw", "Kodak Technical Pan"), "2443": ("cir", "Kodak Aerochrome color IR"),
    "2447": ("pos", ""), "2448": ("pos", ""), "3101": ("neg", "Kodak Ektar 100"),
    "5012": ("pos", ""), "5017": ("pos", ""), "5025": ("pos", ""), "5028": ("pos", ""),
    "5036": ("pos", ""), "5046": ("pos", "Kodak Lumiere 100"), "5048": ("pos", ""),
    "5069": ("pos", ""), "5074": ("pos", ""), "5245": ("pos", ""), "5327": ("pos", ""),
    "5026": ("neg", ""), "5030": ("neg", ""), "5080": ("neg", ""), "5095": ("neg", ""),
    "5096": ("neg", ""), "5250": ("neg", ""), "5755": ("neg", ""), "5775": ("neg", ""),
    "5776": ("pos", ""), "6017": ("pos", ""), "6118": ("pos", ""), "8443": ("cir", ""),
    "ANSCO": ("pos", "Ansco"), "E2424": ("bwir", ""), "E2424C": ("bwir", ""), "E2424D": ("bwir", ""),
    "E2443": ("cir", ""), "E3443": ("cir", ""), "E3414": ("bw", ""), "EKTAR": ("neg", "Kodak Ektar"),
    "FJ400": ("neg", "Fuji 400"), "FJ800": ("neg", "Fuji 800"), "QX": ("cir", ""),
    "QX807": ("pos", ""), "QX824": ("pos", ""), "QX868": ("pos", ""), "RS200": ("pos", ""),
    "RS50": ("pos", ""), "RUSSI": ("unspecified", "Russian film"), "SG800": ("neg", ""),
    "SN-10": ("cir", ""), "SO022": ("bwir", ""), "SO022A": ("bw", ""), "SO022B": ("bw", ""),
    "SO117": ("pos", ""), "SO121": ("pos", ""), "SO217": ("pos", ""), "SO242": ("pos", ""),
    "SO356": ("pos", ""), "SO368": ("pos", ""), "SO489": ("pos", ""), "SO131": ("cir", ""),
    "SO180": ("cir", ""), "UNKN": ("unspecified", "unknown"), "VELVI": ("pos", "Fuji Velvia 50"),
}


def camera_description(code: str | None) -> str | None:
    """``"N5"`` → ``"Nikon D3S Electronic Still Camera"``; None for an unknown or empty code."""
    return CAMERAS.get((code or "").strip().upper())


def film_description(code: str | None) -> str | None:
    """A film or digital-sensor code in words (``"4256E"`` → the sensor), None if unknown."""
    key = (code or "").strip().upper()
    if key in _SENSORS:
        return _SENSORS[key]
    film = _FILMS.get(key)
    if film is None:
        return None
    kind, name = film
    return f"{name}, {_FILM_KINDS[kind]}" if name else _FILM_KINDS[kind]
