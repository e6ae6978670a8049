"""The model worker: what runs in a model process (loading a pipeline, batching, generation)."""
