"""Models: the registry, the embedding cache, encoders (the core's ``Encoder`` protocol), the bundled model, devices."""
