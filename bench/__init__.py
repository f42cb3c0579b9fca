"""Benchmarks: measured figures beside their goals (`make bench`), never asserted in tests."""
