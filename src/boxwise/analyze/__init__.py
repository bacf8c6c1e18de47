"""analyze stage of boxwise (see DESIGN.md)."""
