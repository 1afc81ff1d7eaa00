"""Where data enters: Fashion-MNIST files, synthetic data, photos and their preprocessing, tf.data batches."""
