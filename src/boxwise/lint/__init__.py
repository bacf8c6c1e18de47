"""Detect and lint: which buildpacks take each app, and what is wrong with its files.

command (`boxwise detect`), detection (builder.toml order, each buildpack's detect_rule.py),
requirements / pyproject / procfile / contents (the rules), files (safe reading, secrets),
findings (the Finding model, shared with the report), render (text, json, codequality, github).
"""
