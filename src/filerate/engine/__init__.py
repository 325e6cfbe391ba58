"""The processing engine: the compiled batch reader, the GPU counter, the Dask task, the
cluster, the resource monitor, and the phase runner. Imports nothing from filerate.reports,
so Dask workers stay light to import."""

from filerate import kernelcache  # noqa: F401  (before any kernel: the cache folder)
