"""kinject: synthetic corpora for continual pretraining, and how fast a model learns from them.

How the stages fit together: docs/architecture.md.
"""

__version__ = "0.1.0"
