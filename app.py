"""Entry point of the xlalign app (``python app.py``; a Hugging Face Space runs it): see :mod:`xlalign.app`."""

from __future__ import annotations

from xlalign.app import build_app, main

__all__ = ["build_app", "main"]

if __name__ == "__main__":
    main()
