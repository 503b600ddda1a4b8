"""Glyphs engine: Omniglot data, the siamese network, training, evaluation and recognition.

Pure Python + PyTorch; nothing here imports Qt, so everything the app does can run headless.
"""

__version__ = "0.1.0"
