-- 0008: image_gps (seed 002: "GPS data saved to image_gps"): one row per uploaded image with
-- where and when it was taken, read from its EXIF GPS tags and XMP on upload (the upload's
-- JSON metadata overrides the file); NULL where the file says nothing, never 0.
CREATE VIEW image_gps AS
SELECT id AS item_id,
       key,
       path,
       captured_at,
       json_extract(metadata, '$.gps.latitude_deg') AS latitude_deg,
       json_extract(metadata, '$.gps.longitude_deg') AS longitude_deg,
       json_extract(metadata, '$.gps.altitude_m') AS altitude_m,
       json_extract(metadata, '$.gps.relative_altitude_m') AS relative_altitude_m,
       json_extract(metadata, '$.gps.gimbal_pitch_deg') AS gimbal_pitch_deg,
       json_extract(metadata, '$.gps.gimbal_yaw_deg') AS gimbal_yaw_deg,
       json_extract(metadata, '$.gps.gimbal_roll_deg') AS gimbal_roll_deg,
       json_extract(metadata, '$.gps.flight_yaw_deg') AS flight_yaw_deg
FROM items
WHERE source = 'uploads';
