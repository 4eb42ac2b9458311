"""What a visitor sees when a callback fails, and what the server logs about it.

Every callback is wrapped in :func:`guarded`. A *user error* (bad input: :class:`~xlalign.errors.XlalignError`,
a validation ``ValueError``, a missing file, or a ``gr.Error`` a callback raised itself) logs one line at INFO
and shows its one-line message. An *unexpected* error logs its traceback once (here; Gradio is told not to
print it again) and shows a one-line message; :class:`Blocks` logs Gradio's own input checks as one line.
Upload paths in a message become the visitor's file name; in public mode every absolute path is redacted.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from xlalign.errors import XlalignError
from xlalign.policy import public_mode, redact_paths

log = logging.getLogger(__name__)

#: Errors that are about the visitor's input, not bugs: one line in the log, no traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (XlalignError, ValueError, FileNotFoundError, KeyError)
#: Callback parameters that hold an uploaded file (their server paths never reach the visitor).
UPLOAD_PARAMS = ("upload", "train_upload")
MAX_MESSAGE = 400

F = TypeVar("F", bound=Callable[..., Any])


def refuse(message: str) -> gr.Error:
    """A one-line error about the visitor's input, raised by a callback (``raise refuse("Pick a run.")``)."""
    return gr.Error(message, print_exception=False)


def upload_path(upload: Any) -> str | None:
    """The server path of an uploaded file (Gradio passes a path, or an object with ``.name``)."""
    return None if upload is None else str(getattr(upload, "name", upload))


def visitor_message(message: str, uploads: Iterable[Any] = ()) -> str:
    """``message`` on one line, with upload paths shown as the visitor's file names, redacted in public mode."""
    for up in uploads:
        path = upload_path(up)
        if path:
            message = message.replace(path, Path(path).name)
    if public_mode():
        message = redact_paths(message)
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


def as_visitor_error(action: str, error: Exception, uploads: Iterable[Any] = ()) -> gr.Error:
    """The ``gr.Error`` the visitor sees for ``error`` raised in ``action``; logs it (see the module doc)."""
    if isinstance(error, gr.Error):
        message = visitor_message(str(error.message), uploads)
        log.info("%s refused: %s", action, message)
        return gr.Error(message, duration=error.duration, visible=error.visible, title=error.title,
                        print_exception=False)
    if isinstance(error, USER_ERRORS):
        message = visitor_message(str(error), uploads)
        log.info("%s refused: %s: %s", action, type(error).__name__, message)
        return gr.Error(message, print_exception=False)
    log.error("%s failed", action, exc_info=error)
    first = next((line for line in str(error).splitlines() if line.strip()), "")
    detail = visitor_message(f"{type(error).__name__}: {first}" if first else type(error).__name__, uploads)
    return gr.Error(f"Unexpected error ({detail}); it has been logged on the server.", print_exception=False)


def guarded(fn: F) -> F:
    """Wrap a callback so that whatever it raises reaches the visitor as one line, logged once.

    ``functools.wraps`` keeps the name, signature and annotations Gradio reads (API name, ``gr.Progress``
    and ``gr.SelectData`` parameters).
    """
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            raise as_visitor_error(fn.__name__, e, _uploads(signature, args, kwargs)) from None

    return wrapper  # type: ignore[return-value]


def shown_in_page(failed: str) -> Callable[[F], F]:
    """For a button's callback (already :func:`guarded`): when it fails for a visitor's page, the page shows the
    failure in one place instead of an error badge on every output: the callback object's method ``failed``
    (``failed(message) -> updates``: the message in the result's first panel, the other panels emptied). An API
    client (no page) gets the error, as before. The visitor's page is told apart by its browser token
    (``self.visitors.is_page(request)``)."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(self, *args, **kwargs)
            except gr.Error as e:
                try:
                    request = signature.bind_partial(self, *args, **kwargs).arguments.get("request")
                except TypeError:
                    request = None
                if not self.visitors.is_page(request):
                    raise
                return getattr(self, failed)(str(e.message))

        return wrapper  # type: ignore[return-value]

    return decorate


#: How a failure shown in a page's panel starts (:func:`failure_markdown`).
FAILED = "### ⚠ "


def failure_markdown(action: str, message: str) -> str:
    """The one message a page shows when ``action`` failed (markdown, in the result's first panel)."""
    return f"{FAILED}{action} failed\n\n{message}\n\n_Nothing else is shown for it; change the settings and try again._"


class Blocks(gr.Blocks):
    """``gr.Blocks`` whose input checks log one line: Gradio checks each value a visitor sends (a dropdown's
    value among its choices, a well-formed file payload) before any callback runs, and would print a traceback
    for each refusal."""

    async def preprocess_data(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().preprocess_data(*args, **kwargs)
        except gr.Error as e:
            e.print_exception = False
            log.info("input refused: %s", visitor_message(str(e.message)))
            raise
        except (ValueError, TypeError) as e:  # a malformed payload (pydantic's ValidationError is a ValueError)
            first = next((line for line in str(e).splitlines() if line.strip()), type(e).__name__)
            message = visitor_message(f"invalid input: {first}")
            log.info("input refused: %s: %s", type(e).__name__, message)
            raise gr.Error(message, print_exception=False) from None


def _uploads(signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    try:
        bound = signature.bind_partial(*args, **kwargs).arguments
    except TypeError:
        return []
    return [bound[name] for name in UPLOAD_PARAMS if bound.get(name) is not None]


__all__ = ["FAILED", "USER_ERRORS", "Blocks", "as_visitor_error", "failure_markdown", "guarded", "refuse", "shown_in_page",
           "upload_path", "visitor_message"]
