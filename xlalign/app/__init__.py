"""The Gradio app (``app.py`` at the repository root is its entry point for Spaces)."""
