"""`filerate tune`: the best processes x threads x batch size for this machine, found with
few measurements, proven against the plan's setting, cached per hardware fingerprint.

request.py (what to tune, from the config), fingerprint.py and cache.py (the hardware a
result belongs to, and the cache), search.py (hill climbing, pure), measure.py (a point on
a warm cluster), compare.py (best vs the plan, interleaved), output.py and plot.py (what is
written), command.py (the sub-command). docs/TUNE.md says how to use it.
"""
