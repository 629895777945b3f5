"""Helpers shared by the tests (fixtures stay in conftest.py files).

- :mod:`tests.support.environment`: an emulator for a test, and the product pointed at it, as its
  embedded backend or addressed as a real F&O environment (settings, variables, credential, client).
- :mod:`tests.support.catalog`: the shipped catalog, and copies of it with entities changed.
- :mod:`tests.support.tables`: DuckDB tables compared with the emulator's source data, row for row.
- :mod:`tests.support.runs`: a run's check results and failure messages; a process holding DuckDB.
"""
