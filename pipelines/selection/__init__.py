"""Selection blocks that keep a subset of a corpus: perplexity pruning and D4."""
