#!/usr/bin/env python3
"""Benchmark: parsing NASA ``photo.pl`` pages — harvestd (selectolax) vs BeautifulSoup.

Both parsers extract the same fields from the same pages (the imitation's current and
older markups, 50/50), in one run: photo ID, date, time, nadir and centre points,
nadir-to-centre text, altitude, sun angles, cloud cover, camera, focal length, tilt, format,
geographic name, features, pixel sizes, GeoTIFF availability, camera-metadata path.
(b) is the seed's approach: ``BeautifulSoup(html, "html.parser")`` with label lookups
and regexes. Checks that both agree on every page, then prints pages/s and the ratio.
Usage: python bench/bench_page_parse.py [--pages 400] [--rounds 5]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from daemon.sources.nasa_iss.page import parse_photo_page  # noqa: E402
from tests.fakes.nasa_pages import PagePhoto, current_page, older_page  # noqa: E402

POINT = re.compile(r"(-?[\d.]+)\s*°?\s*([NS])\s*,\s*(-?[\d.]+)\s*°?\s*([EW])")
PIXELS = re.compile(r"(\d{3,5})\s*x\s*(\d{3,5})\s*pixels")


def soup_parse(html: str) -> dict[str, object]:
    """The same fields the BeautifulSoup way (labels → values, then regexes)."""
    soup = BeautifulSoup(html, "html.parser")
    values: dict[str, str] = {}
    for tr in soup.find_all("tr"):
        cells = tr.find_all("td")
        if len(cells) >= 2 and cells[0].find("b"):
            label = cells[0].get_text(" ", strip=True).rstrip(":").lower()
            values.setdefault(label, " ".join(cells[-1].get_text(" ", strip=True).split()))
    for em in soup.find_all("em"):
        bold = em.find("b")
        if bold is None:
            continue
        label = bold.get_text(strip=True).rstrip(":").lower()
        text = em.find_next_sibling(string=True)
        value = " ".join(str(text).split()) if text and em.next_sibling is text else ""
        if value:
            values.setdefault(label, value)

    def point(label: str) -> tuple[float, float] | None:
        m = POINT.search(values.get(label, ""))
        if not m:
            return None
        return (float(m.group(1)) * (-1 if m.group(2) == "S" else 1),
                float(m.group(3)) * (-1 if m.group(4) == "W" else 1))

    body = soup.get_text(" ")
    button = soup.find("input", attrs={"value": "View camera metadata"})
    onclick = button.get("onclick", "") if button else ""
    path = re.search(r"\(\s*'([^']+)'\s*\)", str(onclick))
    return {
        "id": values.get("nasa photo id"), "date": values.get("date taken"),
        "nadir": point("spacecraft nadir point"), "center": point("photo center point"),
        "camera": values.get("camera"), "format": values.get("format"),
        "sizes": tuple(dict.fromkeys((int(w), int(h)) for w, h in PIXELS.findall(body))),
        "geotiff": "No GeoTIFF is available for this photo" not in body,
        "metadata": path.group(1) if path else None,
        "altitude": values.get("spacecraft altitude"), "sun": values.get("sun elevation angle"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    pages = []
    for i in range(args.pages):
        photo = replace(PagePhoto(), frame=str(44608 + i), geotiff=i % 7 == 0)
        pages.append(current_page(photo) if i % 2 == 0 else older_page(photo))
    for html in pages:  # both parsers must agree before they are timed
        ours, theirs = parse_photo_page(html), soup_parse(html)
        assert ours.nasa_id == theirs["id"] and (ours.center_lat, ours.center_lon) == theirs["center"]
        assert ours.image_sizes_px == theirs["sizes"] and ours.geotiff_available == theirs["geotiff"]
        assert ours.camera_metadata_path == theirs["metadata"] and ours.camera == theirs["camera"]
    times_ours, times_soup = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        for html in pages:
            parse_photo_page(html)
        times_ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        for html in pages:
            soup_parse(html)
        times_soup.append(time.perf_counter() - started)
    a, b = statistics.median(times_soup), statistics.median(times_ours)
    size_kb = sum(len(p) for p in pages) / len(pages) / 1024
    print(f"photo.pl pages: {len(pages)} (both markups, {size_kb:.1f} KB each), {args.rounds} rounds, medians")
    print(f"  BeautifulSoup(html.parser) : {len(pages) / a:8.0f} pages/s  ({a / len(pages) * 1e3:.2f} ms/page)")
    print(f"  harvestd (selectolax)      : {len(pages) / b:8.0f} pages/s  ({b / len(pages) * 1e3:.2f} ms/page)")
    print(f"  ratio harvestd/soup        : {a / b:.1f}x")


if __name__ == "__main__":
    main()
