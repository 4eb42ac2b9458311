"""``python -m xlalign.app`` serves the app (as ``python app.py`` does)."""

from xlalign.app.build import main

if __name__ == "__main__":
    main()
