"""lint stage of boxwise (see DESIGN.md)."""
