# This file tests that the setup.py sunset error is not shown when other package manager files exist.
