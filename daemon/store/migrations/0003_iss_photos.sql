-- 0003: iss_photos, one typed row per NASA ISS photo (source kind nasa_iss), read from the
-- photo item's metadata and its companion items ({ID}/camera, {ID}/geotiff). Paths are
-- relative to the library root and set once the file is in the library. Units: degrees,
-- km, mm, percent; date/time are the GMT photo date (YYYY-MM-DD) and time (HH:MM:SS).
CREATE VIEW iss_photos AS
SELECT
    i.source AS source,
    json_extract(i.metadata, '$.nasa_id') AS nasa_id,
    json_extract(i.metadata, '$.mission') AS mission,
    json_extract(i.metadata, '$.roll') AS roll,
    json_extract(i.metadata, '$.frame') AS frame,
    json_extract(i.metadata, '$.date') AS date,
    json_extract(i.metadata, '$.time') AS time,
    json_extract(i.metadata, '$.lat') AS lat,
    json_extract(i.metadata, '$.lon') AS lon,
    json_extract(i.metadata, '$.nadir_lat') AS nadir_lat,
    json_extract(i.metadata, '$.nadir_lon') AS nadir_lon,
    json_extract(i.metadata, '$.altitude_km') AS altitude_km,
    json_extract(i.metadata, '$.camera') AS camera,
    json_extract(i.metadata, '$.camera_description') AS camera_description,
    json_extract(i.metadata, '$.focal_length_mm') AS focal_length_mm,
    json_extract(i.metadata, '$.film') AS film,
    json_extract(i.metadata, '$.film_description') AS film_description,
    json_extract(i.metadata, '$.cloud_cover_pct') AS cloud_cover_pct,
    json_extract(i.metadata, '$.sun_elevation_deg') AS sun_elevation_deg,
    json_extract(i.metadata, '$.sun_azimuth_deg') AS sun_azimuth_deg,
    json_extract(i.metadata, '$.geographic_name') AS geographic_name,
    json_extract(i.metadata, '$.features') AS features,
    i.url AS url,
    CASE WHEN i.status IN ('downloaded', 'processing', 'processed') THEN i.path END AS file_path,
    (SELECT c.path FROM items c WHERE c.source = i.source AND c.key = i.key || '/camera'
        AND c.status IN ('downloaded', 'processing', 'processed')) AS camera_metadata_path,
    (SELECT g.path FROM items g WHERE g.source = i.source AND g.key = i.key || '/geotiff'
        AND g.status IN ('downloaded', 'processing', 'processed')) AS geotiff_path,
    json_extract(i.metadata, '$.geotiff_available') AS geotiff_available,
    i.status AS status
FROM items i
WHERE json_extract(i.metadata, '$.kind') = 'iss_photo';
