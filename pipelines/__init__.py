"""Seed documents, synthetic corpora (rephrase, fact, graph) and selection. Never imports ``kinject.trainers``."""
