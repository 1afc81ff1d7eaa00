"""The ten Fashion-MNIST classes, defined once for the whole toolkit.

Label ``i`` (an integer in 0..9) names ``CLASS_NAMES[i]``; the order is the
official one from Zalando's dataset description.
"""

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

NUM_CLASSES = len(CLASS_NAMES)

IMAGE_SIZE = 28
"""Fashion-MNIST images are IMAGE_SIZE x IMAGE_SIZE greyscale pixels."""
