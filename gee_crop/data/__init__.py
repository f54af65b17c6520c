"""Data on the client: raw stack readers returning a RawStack (Earth Engine patch folders in patch,
NetCDF / Zarr / GeoTIFF stacks in stacks, EMIT L2A reflectance in emit), sample tables (table, worldcereal, ee_rows),
label rasters (labels), regions (regions), local sampling (sampling) and train/test splits (splits).
Import the submodules directly; nothing is re-exported here."""
