"""Assemble the app: one :class:`~xlalign.services.lab.Lab`, the page, and its three groups of callbacks.

``build_app(lab)`` returns the ``gr.Blocks``; nothing heavy runs until a button is pressed (and nothing at
import). ``main()`` launches it: ``python app.py`` or ``python -m xlalign.app`` (``PORT``/``GRADIO_SERVER_PORT``
choose the port); on a Hugging Face Space the Dockerfile does the same with ``XLALIGN_PUBLIC=1``.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any

import gradio as gr

from xlalign.app.diagnose import Diagnose
from xlalign.app.explore import Explore
from xlalign.app.failures import Blocks
from xlalign.app.formatting import CLICK_JS, CSS
from xlalign.app.housekeeping import Housekeeping
from xlalign.app.inputs import default_model
from xlalign.app.layout import Page, build_page
from xlalign.app.neighbourhoods import Neighbours
from xlalign.app.runs import Runs
from xlalign.app.visitors import Visitors
from xlalign.models.cache import default_cache_dir
from xlalign.policy import (
    PolicyError,
    PublicLimits,
    check_writable,
    configure_storage,
    default_runs_dir,
    max_upload_bytes,
    public_mode,
)
from xlalign.services.lab import Lab
from xlalign.services.prewarm import at_start_up
from xlalign.store.downloads import remove_stale_areas

TITLE = "xlalign — cross-lingual alignment lab"
#: Requests one event serves at once unless it sets its own limit (the runs list, drill-downs, comparisons).
LIGHT_CONCURRENCY = 8


@dataclass
class App:
    """One assembled app: its blocks, its lab, its page and its callbacks (tests call these directly)."""

    blocks: gr.Blocks
    lab: Lab
    page: Page
    diagnose: Diagnose
    explore: Explore
    runs: Runs
    visitors: Visitors
    housekeeping: Housekeeping
    neighbours: Neighbours


def assemble(lab: Lab | None = None) -> App:
    """The app on ``lab`` (default: a new one on ``$XLALIGN_RUNS_DIR``), its callbacks wired.

    Queues: every event runs up to :data:`LIGHT_CONCURRENCY` requests at once unless it says otherwise;
    exports have one ``heavy`` queue of one; encoding texts that are not cached takes turns at the lab's encoder
    (:meth:`Lab.encode`); alignment runs have their own background workers. A housekeeping thread forgets closed
    and idle sessions and expires downloads (:mod:`xlalign.app.housekeeping`).
    """
    lab = lab if lab is not None else Lab(os.environ.get("XLALIGN_RUNS_DIR"))
    visitors = Visitors()
    with Blocks(title=TITLE, delete_cache=(3600, 3600)) as blocks:
        page = build_page(lab)
        diagnose, explore, runs = Diagnose(lab, page, lab.downloads, visitors), \
            Explore(lab, page, lab.downloads, visitors), Runs(lab, page, lab.downloads, visitors)
        neighbours = Neighbours(lab, page, lab.downloads, visitors)
        diagnose.wire()
        explore.wire(diagnose.language_clears, diagnose.model_clears)
        runs.wire(blocks)
        neighbours.wire()
    blocks.queue(default_concurrency_limit=LIGHT_CONCURRENCY)
    if os.environ.get("XLALIGN_NO_WARMUP", "") != "1":
        threading.Thread(target=at_start_up, args=(lab, default_model()), name="xlalign-warm-up", daemon=True).start()
    chores = Housekeeping(blocks, lab, visitors, lab.limits).start()
    return App(blocks, lab, page, diagnose, explore, runs, visitors, chores, neighbours)


def build_app(lab: Lab | None = None) -> gr.Blocks:
    """The app's ``gr.Blocks`` on ``lab`` (default: a new :class:`Lab` on ``$XLALIGN_RUNS_DIR``)."""
    return assemble(lab).blocks


def launch_options() -> dict[str, Any]:
    """``launch()`` keyword arguments: host, port, CSS, the page's click script and, in public mode, the upload
    limit."""
    return {"server_name": os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
            "server_port": int(os.environ.get("PORT", os.environ.get("GRADIO_SERVER_PORT", 7860))),
            "max_file_size": max_upload_bytes() if public_mode() else None, "css": CSS, "head": CLICK_JS}


def check_server() -> None:
    """Before serving: runs on persistent storage when there is some (:func:`configure_storage`), and the runs
    and cache folders writable; otherwise one line naming the variable to set, and exit 2. Every limit in the
    environment is checked here too (:class:`PublicLimits`), not at the first request."""
    configure_storage()
    try:
        max_upload_bytes()
        PublicLimits.from_env()
        check_writable(default_runs_dir(), "XLALIGN_RUNS_DIR")
        check_writable(default_cache_dir(), "XLALIGN_CACHE_DIR")
    except PolicyError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def main() -> None:
    """Serve the app (one line per refused input and one traceback per failure go to the log)."""
    check_server()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per request Gradio makes to itself
    remove_stale_areas()  # download areas of a killed server
    app = assemble()
    app.lab.exit_on_sigterm()  # a stopped server records its runs as interrupted, not "running" for ever
    atexit.register(app.lab.downloads.remove)  # and leaves no download area behind (SIGTERM: in exit_on_sigterm)
    app.blocks.launch(**launch_options())


__all__ = ["App", "assemble", "build_app", "check_server", "launch_options", "main"]
