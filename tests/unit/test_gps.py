"""Issue 17, drone GPS (seed 002: "GPS data saved to image_gps"): EXIF GPS tags and DJI XMP of
uploaded images → the ``image_gps`` view, on files built from the EXIF 2.32 tag layout."""

from __future__ import annotations

import pytest

from daemon.gps import ImageGps, read_gps
from tests.fakes.exif_files import (
    RATIONAL,
    Entry,
    capture_entries,
    dji_xmp,
    exif_tiff,
    gps_entries,
    jpeg_with,
    tiff_with_gps,
)

CORDOBA = (-31.42, -64.19)  # southern and western hemispheres
DEAD_SEA = (31.5, 35.5)


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_dji_jpeg_south_west_with_xmp_and_offset_time(tmp_path):
    tiff = exif_tiff(gps_entries(*CORDOBA, altitude_m=512.35),
                     capture_entries("2025:06:01 10:20:30", "-03:00"), order=">")
    path = write(tmp_path, "DJI_0001.JPG", jpeg_with(tiff, dji_xmp(45.2, -90.0, -12.3)))
    gps = read_gps(path)
    assert gps.latitude_deg == pytest.approx(-31.42, abs=1e-6)
    assert gps.longitude_deg == pytest.approx(-64.19, abs=1e-6)
    assert gps.altitude_m == pytest.approx(512.35)
    assert gps.relative_altitude_m == pytest.approx(45.2)
    assert gps.gimbal_pitch_deg == pytest.approx(-90.0) and gps.gimbal_yaw_deg == pytest.approx(-12.3)
    assert gps.captured_at == "2025-06-01T13:20:30Z"  # local 10:20:30 at UTC−3


def test_north_east_below_sea_level_time_from_the_gps_clock(tmp_path):
    tiff = exif_tiff(gps_entries(*DEAD_SEA, altitude_m=-430.5, gps_time=("2024:03:09", (23, 59, 58.5))),
                     capture_entries("2024:03:10 01:59:58", None), order="<")
    gps = read_gps(write(tmp_path, "a.jpg", jpeg_with(tiff)))
    assert (gps.latitude_deg, gps.longitude_deg) == (pytest.approx(31.5), pytest.approx(35.5))
    assert gps.altitude_m == pytest.approx(-430.5)  # GPSAltitudeRef 1: below sea level
    assert gps.relative_altitude_m is None  # no XMP
    assert gps.captured_at == "2024-03-09T23:59:58Z"  # no offset: the GPS clock (UTC)


def test_no_gps_is_none_never_zero(tmp_path):
    assert read_gps(write(tmp_path, "plain.jpg", jpeg_with(None))) == ImageGps()
    only_time = exif_tiff(None, capture_entries("2025:01:01 00:00:00", "+00:00"))
    assert read_gps(write(tmp_path, "t.jpg", jpeg_with(only_time))) == \
        ImageGps(captured_at="2025-01-01T00:00:00Z")
    assert read_gps(write(tmp_path, "broken.jpg", b"\xff\xd8\xff\xe1\x00\x10Exif\0\0MM")) == ImageGps()


def test_malformed_values_are_none(tmp_path):
    bad = [Entry(1, 2, "S"), Entry(2, RATIONAL, ((31, 0), (25, 1), (12, 1))),  # zero denominator
           Entry(3, 2, "W"), Entry(4, RATIONAL, ((200, 1), (0, 1), (0, 1)))]  # 200° longitude
    gps = read_gps(write(tmp_path, "bad.jpg", jpeg_with(exif_tiff(bad, capture_entries("garbage", "-3")))))
    assert gps == ImageGps()


def test_multispectral_tiff_little_endian(tmp_path):
    data = tiff_with_gps(gps_entries(-12.05, 44.5, altitude_m=88.0),
                         capture_entries("2023:11:30 14:00:00", "+03:00"))
    gps = read_gps(write(tmp_path, "IMG_0001_4.tif", data))
    assert (gps.latitude_deg, gps.longitude_deg, gps.altitude_m) == \
        (pytest.approx(-12.05), pytest.approx(44.5), pytest.approx(88.0))
    assert gps.captured_at == "2023-11-30T11:00:00Z"
