"""``photo.pl`` pages as eol.jsc.nasa.gov serves them, in the current and the older markup.

Built from ``shared/reference/nasa_eol.md`` §2.1–2.2: the current Bootstrap-like page
(``table.table`` rows with ``<b>`` labels and ``table_pad`` cells with stray spaces, the
``ImageDetails`` / ``CameraInformation`` sections, ``<em><b>…:</b></em>`` text nodes for the
points and altitude, the ``myModal1`` size cells, the camera-metadata button, the GeoTIFF
sentence) and the ~2015 markup (label ``div``/``em`` in one cell, value in the next).
Values come from real API rows and TSV exports quoted in the reference.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PagePhoto:
    """The facts a page shows (strings as the site prints them)."""

    mission: str = "ISS006"
    roll: str = "E"
    frame: str = "44608"
    date: str = "2003.04.11"
    time: str = "03:14:56"
    nadir: str = "10.0&deg; N, 78.6&deg; W"
    center: str = "9.5&deg; N, 80.0&deg; W"
    nadir_to_center: str = "170 km (106 statute miles) SW"
    altitude_nmi: int = 210
    altitude_km: int = 389
    sun_elevation: str = "-55"
    sun_azimuth: str = "300"
    cloud: str = "10"
    camera: str = "Kodak DCS760c Electronic Still Camera"
    focal_mm: str = "58"
    tilt: str = "23 degrees"
    film: str = "3060E: 3060 x 2036 pixel CCD, RGBG array"
    geon: str = "PANAMA"
    features: str = "PANAMA CITY &amp; COLON AT NIGHT"
    sizes: tuple[tuple[int, int], ...] = ((3032, 2064), (640, 436))
    geotiff: bool = False
    metadata_dir: str = "/SearchPhotos/CameraMetadata/ISS006"

    @property
    def nasa_id(self) -> str:
        return f"{self.mission}-{self.roll}-{self.frame}"


def _row(label: str, value: str) -> str:
    return f'<tr><td><b>{label}</b></td>\n<td class="table_pad"> {value} </td></tr>\n'


_MENU = ["Home", "Search Photos", "Map Search", "Technical Search", "Mission-Roll-Frame",
         "Cities at Night", "Collections", "Earth from Space", "Image Detectives", "Videos",
         "Training", "Publications", "Image Use Policy", "FAQ", "Contact Us"]
CHROME_HEAD = (
    '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
    '<link rel="stylesheet" href="/css/bootstrap.min.css"><link rel="stylesheet" href="/css/eol.css">'
    '<script src="/js/jquery.min.js"></script><script src="/js/bootstrap.min.js"></script>'
)


def _menu_item(name: str) -> str:
    slug = name.replace(" ", "")
    return (f'<li class="dropdown"><a href="/{slug}/" class="dropdown-toggle">{name}</a>'
            f'<ul class="dropdown-menu"><li><a href="/{slug}/about.htm">About</a></li>'
            f'<li><a href="/{slug}/help.htm">Help</a></li></ul></li>')


CHROME_NAV = ('<nav class="navbar navbar-default"><div class="container-fluid"><ul class="nav navbar-nav">'
              + "".join(_menu_item(m) for m in _MENU) + "</ul></div></nav>")
CHROME_FOOT = ('<footer class="footer"><div class="container"><p>Curator: Earth Science and Remote Sensing'
               ' Unit, NASA Johnson Space Center</p><p><a href="https://www.nasa.gov/">NASA</a> | '
               '<a href="https://www.nasa.gov/about/highlights/HP_Privacy.html">Privacy Policy</a> | '
               '<a href="/SearchPhotos/disclaimer.htm">Image Use</a></p><p>Server: 2</p></div></footer>'
               '<script>$(function(){$(\'[data-toggle="tooltip"]\').tooltip();});</script>')


def current_page(p: PagePhoto) -> str:
    """The 2025 markup, with the site's navigation, download modal and footer."""
    geotiff = (f'<a href="GetGeotiff.pl?photo={p.nasa_id}">Download GeoTIFF</a>' if p.geotiff
               else "<p>No GeoTIFF is available for this photo</p>")
    sizes = "".join(f'<tr><td><a class="btn btn-primary" href="/DatabaseImages/ESC/large/{p.mission}/'
                    f'{p.nasa_id}.JPG" download>Download JPEG</a></td>'
                    f'<td style="text-align:right"><h5>{w} x {h} pixels</h5></td></tr>'
                    for w, h in p.sizes)
    return f"""<!DOCTYPE html><html><head><title>Astronaut Photo {p.nasa_id}</title>{CHROME_HEAD}</head><body>
{CHROME_NAV}
<div class="container">
<div id="ImageDetails"><table class="table">
{_row("NASA Photo ID", p.nasa_id)}{_row("Date taken", p.date)}{_row("Time taken", p.time + " GMT")}
{_row("Cloud Cover Percentage", p.cloud)}
{_row("Country or Geographic Name:", p.geon)}{_row("Features:", p.features)}
</table>
<p><em><b>Spacecraft nadir point:</b></em> {p.nadir}<br>
<em><b>Photo center point:</b></em> {p.center}<br>
<em><b>Nadir to Photo Center:</b></em> {p.nadir_to_center}<br>
<em><b>Spacecraft Altitude:</b></em> {p.altitude_nmi} nautical miles ({p.altitude_km}km)</p>
<p><em><b>Sun Elevation Angle:</b></em> {p.sun_elevation}&deg;<br>
<em><b>Sun Azimuth:</b></em> {p.sun_azimuth}&deg;</p>
</div>
<div id="CameraInformation"><table class="table">
{_row("Camera:", p.camera)}{_row("Focal Length:", p.focal_mm + "mm")}{_row("Camera Tilt:", p.tilt)}
{_row("Format:", p.film)}
</table>
<input type="button" class="btn" value="View camera metadata"
 onclick="window.open('{p.metadata_dir}/{p.nasa_id}.txt')"></div>
{geotiff}
<div id="myModal1" class="modal"><table>{sizes}</table></div>
<p>Image courtesy of the Earth Science and Remote Sensing Unit, NASA Johnson Space Center</p>
</div>{CHROME_FOOT}</body></html>"""


def older_page(p: PagePhoto) -> str:
    """The ~2015 markup: label cell with ``<div><em><b>…:</b></em></div>``, value in the next cell."""

    def row(label: str, value: str) -> str:
        return f'<tr><td><div class="lbl"><em><b>{label}:</b></em></div></td> <td>{value}</td></tr>\n'

    sizes = " ".join(f"{w} x {h} pixels" for w, h in p.sizes)
    return f"""<html><body><table class="table-responsive">
{row("NASA Photo ID", p.nasa_id)}{row("Date taken", p.date)}{row("Time taken", p.time + " GMT")}
{row("Spacecraft nadir point", p.nadir)}{row("Photo center point", p.center)}
{row("Nadir to Photo Center", p.nadir_to_center)}
{row("Spacecraft Altitude", f"{p.altitude_nmi} nautical miles")}
{row("Sun Elevation Angle", p.sun_elevation + "&deg;")}{row("Sun Azimuth", p.sun_azimuth + "&deg;")}
{row("Cloud Cover Percentage", p.cloud)}{row("Camera", p.camera)}{row("Focal Length", p.focal_mm + "mm")}
{row("Camera Tilt", p.tilt)}{row("Format", p.film)}{row("Country or Geographic Name", p.geon)}
{row("Features", p.features)}
</table><p>Download: {sizes}</p>
<input type="button" value="View camera metadata" onclick="openWin('{p.metadata_dir}/{p.nasa_id}.txt')">
{'' if p.geotiff else 'No GeoTIFF is available for this photo'}
</body></html>"""
