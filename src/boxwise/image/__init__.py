"""image stage of boxwise (see DESIGN.md)."""
