"""Many series, one command: a panel read from a wide or long CSV file (or bundled datasets),
fitted series by series on worker processes or a Dask cluster, stored as one group of runs.

- panel.py    reading the panel: wide and long CSV files, bundled datasets, checked whole
- work.py     what a worker does with a chunk: fit each series, return plain data (no store)
- runner.py   chunks out, results back, the client stores them; resume, Ctrl-C, failures
- groups.py   the group table beside the catalog, recovered from run.json
- results.py  a group's forecasts (one long table) and its evaluation (the panel's summary)
"""
