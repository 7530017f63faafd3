"""Data sources of scenes: their bands, asset keys, pixel size and cloud mask.

Sentinel-2 L2A on Earth Search keys assets by common name (``red`` is B04, 10 m; ``scl``
the 20 m scene classification), reflectance = DN × scale + offset from the asset's
``raster:bands`` (``sentinel-2-c1-l2a``: 0.0001 and −0.1), nodata 0
(``../shared/reference/stac_sentinel2.md`` §1.6–1.7, §2). HLS v2.0 (CMR-STAC) keys assets by
band name, int16 reflectance × 0.0001 with fill −9999, cloud bits in ``Fmask`` (bit 1
cloud, 2 adjacent, 3 shadow; §3).
"""

from __future__ import annotations

from dataclasses import dataclass, field

S2_ASSETS: dict[str, str] = {
    "B01": "coastal", "B02": "blue", "B03": "green", "B04": "red", "B05": "rededge1",
    "B06": "rededge2", "B07": "rededge3", "B08": "nir", "B8A": "nir08", "B09": "nir09",
    "B11": "swir16", "B12": "swir22",
}
# HLS S30 asset keys are the band names; L30's NIR/SWIR bands carry other numbers
HLS_L30: dict[str, str] = {"B02": "B02", "B03": "B03", "B04": "B04", "B8A": "B05", "B08": "B05",
                           "B11": "B06", "B12": "B07"}


@dataclass(frozen=True)
class DataSource:
    """How one data source's scenes are read.

    ``resolution_m``: the chip pixel size (the finest band's native size); ``mask_asset``:
    the cloud-mask asset (None: no mask); ``mask_bits``: for a bit-field mask (HLS Fmask),
    the bits that mask a pixel — otherwise mask values are class numbers (S2 SCL);
    ``mask_nodata``: the mask's fill value (SCL 0, Fmask 255).
    """

    name: str
    resolution_m: float
    mask_asset: str | None
    mask_bits: tuple[int, ...] = ()
    mask_nodata: float = 0
    default_scale: float = 0.0001
    default_offset: float = 0.0
    default_nodata: float = 0
    l30_assets: dict[str, str] = field(default_factory=dict)

    def asset_key(self, band: str, item_id: str = "") -> str:
        """The asset key of ``band`` (``B04``) in a scene of this source.

        Raises:
            KeyError: the band is not one this source has.
        """
        if self.name == "S2":
            return S2_ASSETS[band]
        if ".L30." in item_id:
            return self.l30_assets[band]
        if band not in S2_ASSETS:
            raise KeyError(band)
        return band


S2 = DataSource("S2", 10.0, "scl")
HLS = DataSource("HLS", 30.0, "Fmask", mask_bits=(1, 2, 3), mask_nodata=255, default_nodata=-9999,
                 l30_assets=HLS_L30)
DATA_SOURCES: dict[str, DataSource] = {"S2": S2, "HLS": HLS}
