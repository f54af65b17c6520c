"""The Earth Engine side of gee-crop (the server).

Graph builders return ``ee`` objects and send nothing: ``collections`` (S2 SR harmonized + Cloud
Score+), ``emit`` (EMIT L2A monthly medians, bands kept by wavelength), ``composite`` (5-day medians,
server-side gap filling), ``labels`` (per-country
reference label images), ``sampling`` (inward buffer, grid sampling, series extraction, the graph of
one tile of a sampling job, export configs), ``assessment`` (area and accuracy assessment of a map
held on Earth Engine). ``client`` is the one place that talks to the server; ``graph`` reads graphs
back. ``tasks`` runs a sampling job's tiles through the client (streamed, or a bounded queue of export
tasks that resumes) and ``pilot`` measures and prices a job.
"""
