"""Continual pretraining, evaluation callbacks, judges, curves. Never imports ``kinject.pipelines``."""
