"""Camera files with GPS built byte by byte from the EXIF 2.32 specification (CIPA DC-008),
independently of the reader under test: a TIFF-structured APP1 segment in a JPEG (IFD0 →
GPS IFD 0x8825 and Exif IFD 0x8769), an XMP APP1 packet as DJI drones write it, and a
baseline TIFF with the same IFDs (as MicaSense and Parrot multispectral cameras write)."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from fractions import Fraction

from PIL import Image

BYTE, ASCII, SHORT, LONG, RATIONAL = 1, 2, 3, 4, 5
SIZES = {BYTE: 1, ASCII: 1, SHORT: 2, LONG: 4, RATIONAL: 8}


@dataclass(frozen=True)
class Entry:
    tag: int
    type: int
    values: tuple[object, ...] | str | bytes


def rational(value: float) -> tuple[int, int]:
    f = Fraction(value).limit_denominator(1_000_000)
    return f.numerator, f.denominator


def dms(value: float) -> tuple[tuple[int, int], ...]:
    """|value| as degrees, minutes, seconds rationals (seconds to 1/100)."""
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 2)
    return (degrees, 1), (minutes, 1), rational(seconds)


def _payload(entry: Entry, order: str) -> tuple[int, bytes]:
    if entry.type == ASCII:
        text = entry.values if isinstance(entry.values, bytes) else str(entry.values).encode() + b"\0"
        return len(text), text
    if entry.type == BYTE:
        raw = bytes(entry.values)  # type: ignore[arg-type]
        return len(raw), raw
    if entry.type == RATIONAL:
        pairs = entry.values
        return len(pairs), b"".join(struct.pack(order + "II", *pair) for pair in pairs)  # type: ignore[misc]
    fmt = "H" if entry.type == SHORT else "I"
    return len(entry.values), b"".join(struct.pack(order + fmt, v) for v in entry.values)  # type: ignore[arg-type]


def ifd(entries: list[Entry], offset: int, order: str, next_ifd: int = 0) -> bytes:
    """One IFD placed at ``offset`` of the TIFF structure, followed by its data area."""
    entries = sorted(entries, key=lambda e: e.tag)
    data_at = offset + 2 + 12 * len(entries) + 4
    table, data = [struct.pack(order + "H", len(entries))], b""
    for entry in entries:
        count, raw = _payload(entry, order)
        if len(raw) <= 4:
            field = raw.ljust(4, b"\0")
        else:
            field = struct.pack(order + "I", data_at + len(data))
            data += raw + (b"\0" if len(raw) % 2 else b"")  # word boundary
        table.append(struct.pack(order + "HHI", entry.tag, entry.type, count) + field)
    table.append(struct.pack(order + "I", next_ifd))
    return b"".join(table) + data


def gps_entries(lat: float | None, lon: float | None, altitude_m: float | None = None,
                gps_time: tuple[str, tuple[int, int, float]] | None = None) -> list[Entry]:
    entries = [Entry(0, BYTE, (2, 3, 0, 0))]
    if lat is not None:
        entries += [Entry(1, ASCII, "S" if lat < 0 else "N"), Entry(2, RATIONAL, dms(lat))]
    if lon is not None:
        entries += [Entry(3, ASCII, "W" if lon < 0 else "E"), Entry(4, RATIONAL, dms(lon))]
    if altitude_m is not None:
        entries += [Entry(5, BYTE, (1 if altitude_m < 0 else 0,)),
                    Entry(6, RATIONAL, (rational(abs(altitude_m)),))]
    if gps_time is not None:
        day, (h, m, s) = gps_time
        entries += [Entry(7, RATIONAL, ((h, 1), (m, 1), rational(s))), Entry(29, ASCII, day)]
    return entries


def exif_tiff(gps: list[Entry] | None, exif: list[Entry] | None, order: str = ">",
              ifd0_extra: list[Entry] | None = None) -> bytes:
    """The TIFF structure of an APP1 Exif segment: header, IFD0, Exif IFD, GPS IFD."""
    header = (b"MM\0*" if order == ">" else b"II*\0") + struct.pack(order + "I", 8)
    pointers = list(ifd0_extra or [])
    # lay out: IFD0 at 8, then the Exif IFD, then the GPS IFD (offsets known after sizing)
    placeholders = pointers + ([Entry(0x8769, LONG, (0,))] if exif else []) + \
        ([Entry(0x8825, LONG, (0,))] if gps is not None else [])
    size0 = len(ifd(placeholders, 8, order))
    exif_at = 8 + size0
    exif_raw = ifd(exif, exif_at, order) if exif else b""
    gps_at = exif_at + len(exif_raw)
    final = pointers + ([Entry(0x8769, LONG, (exif_at,))] if exif else []) + \
        ([Entry(0x8825, LONG, (gps_at,))] if gps is not None else [])
    gps_raw = ifd(gps, gps_at, order) if gps is not None else b""
    return header + ifd(final, 8, order) + exif_raw + gps_raw


def capture_entries(local: str, offset: str | None) -> list[Entry]:
    """DateTimeOriginal ("YYYY:MM:DD HH:MM:SS") and OffsetTimeOriginal ("-03:00")."""
    entries = [Entry(0x9003, ASCII, local)]
    if offset is not None:
        entries.append(Entry(0x9011, ASCII, offset))
    return entries


def dji_xmp(relative_altitude_m: float, pitch_deg: float, yaw_deg: float) -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"'
        f' drone-dji:AbsoluteAltitude="+512.35" drone-dji:RelativeAltitude="{relative_altitude_m:+.2f}"'
        f' drone-dji:GimbalRollDegree="+0.00" drone-dji:GimbalYawDegree="{yaw_deg:+.2f}"'
        f' drone-dji:GimbalPitchDegree="{pitch_deg:+.2f}" drone-dji:FlightYawDegree="{yaw_deg:+.1f}"/>'
        '</rdf:RDF></x:xmpmeta>\n<?xpacket end="w"?>'
    ).encode()


def jpeg_with(tiff: bytes | None, xmp: bytes | None = None, size: tuple[int, int] = (64, 48)) -> bytes:
    """A baseline JPEG with an Exif APP1 (``tiff``) and an XMP APP1 right after SOI."""
    out = io.BytesIO()
    Image.new("RGB", size, (90, 140, 60)).save(out, "JPEG", quality=80)
    plain = out.getvalue()
    segments = b""
    if tiff is not None:
        body = b"Exif\0\0" + tiff
        segments += b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    if xmp is not None:
        body = b"http://ns.adobe.com/xap/1.0/\0" + xmp
        segments += b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    return plain[:2] + segments + plain[2:]


def tiff_with_gps(gps: list[Entry], exif: list[Entry] | None, width: int = 8, height: int = 8) -> bytes:
    """A little-endian baseline TIFF (8-bit grey, one strip) whose IFD0 points at a GPS IFD."""
    pixels = bytes((x * 16 + y) % 256 for y in range(height) for x in range(width))
    image_tags = [Entry(256, SHORT, (width,)), Entry(257, SHORT, (height,)), Entry(258, SHORT, (8,)),
                  Entry(259, SHORT, (1,)), Entry(262, SHORT, (1,)), Entry(273, LONG, (0,)),
                  Entry(277, SHORT, (1,)), Entry(278, SHORT, (height,)), Entry(279, LONG, (len(pixels),))]
    draft = exif_tiff(gps, exif, "<", image_tags)
    strip_at = len(draft)
    image_tags[5] = Entry(273, LONG, (strip_at,))
    return exif_tiff(gps, exif, "<", image_tags) + pixels
