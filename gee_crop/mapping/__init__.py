"""Wall-to-wall crop-type maps, the parts: ``tiling`` (the output grid and its tiles, sized for Earth
Engine requests), ``sources`` (LocalStackSource, EarthEngineSource: the composite of a tile, made as the
model's FeatureSpec says), ``writers`` (GeoTIFF/COG/PNG/CSV, atomic), ``accuracy`` (map vs labels),
``cubes`` (lazy xee cubes of the server composite, for notebooks). The engine runs them: ``request``
(the frozen MapRequest / MapSettings of a command), ``engine`` (plan, run, resume, finish: run_map,
plan_map), ``tasks`` (one tile's work), ``cluster`` (Dask schedulers, workers, requests in flight).
See docs/mapping.md.
"""
