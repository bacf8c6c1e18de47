"""Helpers the test areas share (imported as `support.*`; tests/ is on sys.path)."""
