"""Real, human-annotated image sets that an installable package ships, one module per source.

Each module defines SOURCE, a `segstudio.bench.real_data.RealSource`; `real_data.SOURCES` lists them.
"""
