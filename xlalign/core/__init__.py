"""The core: corpus, loaders, scenarios, exact ranking, pure metrics, evaluation, statistics, the verdict rule.

Imports nothing above it (no model, no run folder, no UI); checked by import-linter (``.importlinter``)."""
