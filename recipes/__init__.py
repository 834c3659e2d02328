"""Recipes: the only place experiment parameters live. See ``schema.py`` and ``README.md``."""
