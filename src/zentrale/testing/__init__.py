"""Test doubles shared by the test suite and the benchmarks (never used in production)."""
