"""Drawing: plots, layer grids, the HTML pages."""
