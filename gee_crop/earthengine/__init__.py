"""The Earth Engine side of gee-crop.

Graph builders return ``ee`` objects and send nothing: ``collections`` (S2 SR harmonized + Cloud
Score+, EMIT), ``composite`` (5-day medians, server-side gap filling), ``labels`` (per-country
reference maps), ``sampling`` (inward buffer, grid sampling, series extraction, export configs).
``client`` is the one place that talks to the server; ``jobs`` tiles, streams, exports and resumes
sampling runs; ``offline`` builds graphs without a server (tests); ``graph`` reads graphs back.
"""
