"""Benchmarks of Intercalaire (issue #3, item 8): ``python -m bench --help``.

Never part of the test suite. Each sub-command prints a table and records its
figures in var/bench/results.json; ``report`` (run at the end of every other
command) rewrites docs/benchmarks.md from them.
"""
