"""Cellule at scale: the data generator (`benchmarks.generate`) and the benchmarks run on it.

Nothing here is imported by the application; these modules are run by hand
(``python -m benchmarks.generate …``) against a database made for them.
"""
