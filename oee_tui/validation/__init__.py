"""The validation suite: `oee validate` and the Validation screen run its phases, each in a subprocess,
count their results from JUnit XML and keep a timestamped log and report in the data dir.

Phases: site acceptance (`site_acceptance.py`), the calculator's self-test against shipped reference
cases (`self_test.py`, `reference_cases.toml`) and, in a source checkout, the project's own pytest suite
grouped by markers (`suite_phases.py`). `runner.py` runs them; `report.py` writes what a commissioning
engineer keeps; `history.py` lists past runs.
"""
