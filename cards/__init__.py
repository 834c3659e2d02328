"""The Hub artifact layer: dataset repos at revisions, the local registry, cards, reproduction."""
