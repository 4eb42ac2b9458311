"""Controls generated from the specs, and their values read back into spec objects.

A control's default, choices, label and help come from its spec field (:mod:`xlalign.specs`), so one
edit there moves the app and the CLI together.
"""

from __future__ import annotations

import math
from typing import Any

import gradio as gr

from xlalign.align.base import AlignSpec, method_options, registered
from xlalign.errors import XlalignError
from xlalign.policy import PublicLimits, public_mode
from xlalign.specs import OptionInfo, option, options

#: (group, field) of every per-method option control, in the order the Align tab lays them out and
#: :func:`nested_options` reads them back (the methods come from the registry, :mod:`xlalign.align.base`).
METHOD_FIELDS: list[tuple[str, str]] = [(group, o.name) for group, cls in method_options().items()
                                         for o in options(cls) if o.ui]


def control(spec: type, name: str, *, cap: tuple[str, str] | None = None, **kw: Any) -> gr.components.Component:
    """A Gradio control whose default, choices, label and help come from the spec's field; ``cap`` (public mode:
    (label, help) with this server's limit) replaces the label and the help, which state the spec's own range."""
    o: OptionInfo = option(spec, name)
    label, info = cap or (o.label, o.help)
    common = dict(label=label, info=info, elem_id=f"opt-{spec.__name__}-{name}", min_width=200, **kw)
    if o.kind is bool:
        return gr.Checkbox(value=o.default, **common)
    if o.choices:
        return gr.Radio(list(o.choices), value=o.default, **common)
    if o.kind in (int, float) and o.optional:  # a Number shows 0 when empty; empty must mean "the default"
        return gr.Textbox(value="" if o.default is None else str(o.default), placeholder="empty = default", **common)
    if o.kind in (int, float):
        return gr.Number(value=o.default, precision=0 if o.kind is int else None, **common)
    return gr.Textbox(value=o.default, **common)


def method_controls() -> list[gr.components.Component]:
    """Every per-method option control, one accordion per method (inside the current Blocks context). In public
    mode an option the server caps states the server's limit (the method's optional ``caps(limits)``)."""
    made: list[gr.components.Component] = []
    default = option(AlignSpec, "method").default
    limits = PublicLimits.from_env() if public_mode() else None
    for group, method in registered().items():
        caps_of = getattr(method, "caps", None)  # optional in the Aligner protocol
        caps: dict[str, tuple[str, str]] = caps_of(limits) if limits is not None and caps_of is not None else {}
        with gr.Accordion(f"{group}: {method.summary}", open=group == default), gr.Row():
            made += [control(method.Options, o.name, cap=caps.get(o.name)) for o in options(method.Options) if o.ui]
    return made


def number(value: Any, kind: type, label: str = "value") -> Any:
    """Empty means the spec's default (None); numbers keep their type; anything else is a one-line error.

    NaN, ∞ or a fraction for a whole number reach the spec as they are, so that its message (the same as the
    CLI's and the API's) says what is wrong."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        parsed = float(value)
    except (TypeError, ValueError):
        raise XlalignError(f"{label}: {str(value)[:40]!r} is not a number") from None
    if kind is int:
        return int(parsed) if math.isfinite(parsed) and parsed.is_integer() else parsed
    return kind(parsed)


def nested_options(values: tuple[Any, ...] | list[Any]) -> dict[str, Any]:
    """The per-method option objects from the values of :func:`method_controls` (empty numbers: the default)."""
    classes = method_options()
    grouped: dict[str, dict[str, Any]] = {g: {} for g in classes}
    for (group, name), value in zip(METHOD_FIELDS, values, strict=True):
        o = option(classes[group], name)
        if o.kind in (int, float):
            value = number(value, o.kind, o.label)
            if value is None and not o.optional:
                value = o.default
        grouped[group][name] = value
    return {g: classes[g](**kw) for g, kw in grouped.items()}


__all__ = ["METHOD_FIELDS", "control", "method_controls", "nested_options", "number"]
