"""kinject: synthetic corpora for continual pretraining, and how fast a model learns from them."""

__version__ = "0.1.0"
