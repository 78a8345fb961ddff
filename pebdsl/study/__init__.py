"""Studies: many independent solves of one or more designs, as data (no printing, no HTML).

`runner` runs them (in this process, a local process pool, or on Dask) and keeps every case's
outcome, failed or not; `compare` solves every variant of design files and scores them side by
side (savings against the reference, split into trade and storage); `sweep` solves the
cartesian product of `--set` values. Writing their outputs and printing them belong to
`pebdsl.present` and `pebdsl.cli`.
"""
