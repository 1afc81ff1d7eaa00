"""The model registry, the model handle and its engines (Keras, NumPy), loading and saving, precision."""
