"""Reports: load the phase outputs, then tables, bottleneck analysis, plots and HTML."""
