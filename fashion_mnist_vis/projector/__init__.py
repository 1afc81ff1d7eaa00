"""The Embedding Projector: the export and the read-only CORS server."""
