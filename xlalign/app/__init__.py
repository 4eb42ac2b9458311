"""The Gradio app: ``build_app(lab)`` and ``main()`` (``app.py`` at the repository root is the entry point for Spaces).

Modules: :mod:`~xlalign.app.layout` (the page and its components), :mod:`~xlalign.app.controls` (controls
generated from the specs), :mod:`~xlalign.app.inputs` (what the configuration means), one callbacks module
per area (:mod:`~xlalign.app.diagnose`, :mod:`~xlalign.app.explore`, :mod:`~xlalign.app.runs`),
:mod:`~xlalign.app.formatting` (the words and HTML shown), :mod:`~xlalign.app.failures` (errors a visitor
sees, and the log), :mod:`~xlalign.app.visitors` (whose request it is) and :mod:`~xlalign.app.build`
(assembly, queues and launch). Downloads go to the lab's byte-bounded :class:`~xlalign.store.downloads.DownloadArea`.
"""

from xlalign.app.build import App, assemble, build_app, launch_options, main

__all__ = ["App", "assemble", "build_app", "launch_options", "main"]
