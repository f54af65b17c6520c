"""Client-side numerics on raw sample series: cloud masks (cloud), season medians and gap filling
(composite), harmonic coefficients (harmonics), spectral indices (indices), training augmentation
(augment). Import the submodules directly; nothing is re-exported here."""
