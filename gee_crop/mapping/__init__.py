"""Wall-to-wall crop-type maps (issue 4): region -> output grid -> tiles -> composites (local stack or
Earth Engine, computed like training) -> onnxruntime CropNet -> per-tile GeoTIFFs -> COG, PNG preview,
area table and map accuracy.

Modules, along the data flow: ``region`` (AOIs), ``tiling`` (grid and tiles sized for Earth Engine
requests), ``sources`` (LocalStackSource, EarthEngineSource), ``inference`` (onnxruntime sessions,
providers, batching), ``quantize`` (int8 static QDQ), ``writers`` (GeoTIFF/COG/PNG/CSV, atomic),
``accuracy`` (map vs labels), ``pipeline`` (run_map: Dask, resume, failure reports).
See docs/mapping.md.
"""
