"""Video in and out, and classifying frames live."""
