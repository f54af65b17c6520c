"""Wall-to-wall crop-type maps, the parts: ``tiling`` (the output grid and its tiles, sized for Earth
Engine requests), ``sources`` (LocalStackSource, EarthEngineSource: the composite of a tile, made as the
model's FeatureSpec says), ``writers`` (GeoTIFF/COG/PNG/CSV, atomic), ``accuracy`` (map vs labels),
``cubes`` (lazy xee cubes of the server composite, for notebooks). ``gee_crop.pipeline.map`` runs
them (Dask, resume, failure reports). See docs/mapping.md.
"""
