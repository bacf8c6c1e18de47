"""report stage of boxwise (see docs/design.md)."""
