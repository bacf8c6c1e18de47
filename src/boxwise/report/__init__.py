"""report stage of boxwise (see DESIGN.md)."""
