"""Benchmarks for cintel-relay: ``python3 -m bench --help``. Not part of the test run."""
