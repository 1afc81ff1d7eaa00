"""The command layer: each command's argument parsing and ``main``; flags become typed settings here."""
