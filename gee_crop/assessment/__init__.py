"""Area estimates and accuracy the way map producers report them (Olofsson et al. 2014):
a stratified random sample of reference points (design.py), then unbiased estimators with 95 %
confidence intervals (estimators.py)."""
