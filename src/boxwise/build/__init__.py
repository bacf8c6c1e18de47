"""build stage of boxwise (see DESIGN.md)."""
