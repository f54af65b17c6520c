"""Client-side numerics on raw sample series: cloud masks (cloud), season medians and gap filling
(composite; composite_pixels is the one compositing chain), harmonic coefficients (harmonics),
spectral indices (indices), training augmentation (augment); the model contract (spec).
Import the submodules directly; nothing is re-exported here."""
