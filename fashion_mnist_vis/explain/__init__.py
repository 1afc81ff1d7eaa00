"""What a model sees: layer activations, class activation maps, embeddings, calibration."""
