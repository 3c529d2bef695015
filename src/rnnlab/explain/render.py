"""Render a forward or backward walk: text, markdown, latex, wolfram, json or html.

``render(walk, fmt)`` returns a string. text, markdown, latex and html lay out the same document
(``document.blocks``); wolfram writes one expression per step that pastes into Wolfram Alpha;
json holds every value of the walk.
"""

from __future__ import annotations

import dataclasses
import html
import io
import json
import math

import numpy as np

from ..errors import InputError
from .records import BackwardWalk
from .document import Checks, Equation, Heading, Para, Table, blocks, number
from .records import Check, ForwardWalk

FORMATS = ("text", "markdown", "latex", "wolfram", "json", "html")


def render(walk: ForwardWalk | BackwardWalk, fmt: str = "text") -> str:
    """The walk in format ``fmt`` (one of FORMATS)."""
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    return {"text": render_text, "markdown": render_markdown, "latex": render_latex,
            "wolfram": render_wolfram, "json": render_json, "html": render_html}[fmt](walk)


def _verdict(check: Check) -> str:
    return "pass" if check.passed else "FAIL"


def _tolerance(check: Check) -> str:
    return f"{check.tolerance:.0e}·max(1, |value|)"


def _summary(walk) -> str:
    checks = walk.checks
    if not checks:
        return "not checked"
    failed = [c.framework for c in checks if not c.passed]
    return "all checks pass" if not failed else "FAILED: " + "; ".join(failed)


# -- json -----------------------------------------------------------------------------------------


def to_data(value):
    """Plain JSON data from a walk: dataclasses to objects, arrays to (nested) lists."""
    if dataclasses.is_dataclass(value):
        data = {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if hasattr(value, "passed") and not isinstance(value, Check):
            data["passed"] = value.passed
        return data
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: to_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_data(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def render_json(walk) -> str:
    data = {"kind": "backward" if isinstance(walk, BackwardWalk) else "forward"}
    data.update(to_data(walk))
    return json.dumps(data, indent=2) + "\n"


# -- text (rich) ----------------------------------------------------------------------------------


def _cell_text(value) -> str:
    if isinstance(value, np.ndarray):
        rows = value.reshape(-1, 1) if value.ndim == 1 else value
        return "\n".join("  ".join(f"{number(v):>12}" for v in row) for row in rows)
    if isinstance(value, float):
        return number(value)
    return str(value)


def text_renderables(walk):
    """rich renderables of the walk, in order (the CLI prints them to the terminal)."""
    from rich import box
    from rich.table import Table as RichTable
    from rich.text import Text

    for block in blocks(walk):
        if isinstance(block, Heading):
            if block.level == 1:
                yield Text(block.text, style="bold underline")
            elif block.level == 2:
                yield Text(f"── {block.text} " + "─" * max(4, 60 - len(block.text)), style="bold")
            else:
                yield Text(block.text, style="bold")
        elif isinstance(block, Para):
            yield Text(block.text)
        elif isinstance(block, Equation):
            yield Text("  " + block.plain, style="cyan")
        elif isinstance(block, Table):
            table = RichTable(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
            for k, (plain, _) in enumerate(block.headers):
                table.add_column(plain, justify="left" if k == 0 else "right", no_wrap=True)
            for row in block.rows:
                table.add_row(*(_cell_text(v) for v in row))
            yield table
        elif isinstance(block, Checks):
            table = RichTable(box=box.SIMPLE_HEAD, pad_edge=False, title=None)
            for name in ("check", "max |hand − framework|", "tolerance", "result"):
                table.add_column(name, no_wrap=True)
            for check in block.checks:
                style = "green" if check.passed else "bold red"
                table.add_row(check.framework, f"{check.max_abs_diff:.3e}", _tolerance(check),
                              Text(_verdict(check), style=style))
            yield table
    yield Text(_summary(walk), style="bold green" if walk.passed else "bold red")


def print_text(walk, console) -> None:
    for renderable in text_renderables(walk):
        console.print(renderable, highlight=False)


def render_text(walk, width: int = 160) -> str:
    from rich.console import Console

    buffer = io.StringIO()
    print_text(walk, Console(file=buffer, width=width, color_system=None, force_terminal=False))
    return buffer.getvalue()


# -- markdown -------------------------------------------------------------------------------------


def _cell_markdown(value) -> str:
    if isinstance(value, np.ndarray):
        rows = value.reshape(-1, 1) if value.ndim == 1 else value
        return "<br>".join(" ".join(number(v) for v in row) for row in rows)
    if isinstance(value, float):
        return number(value)
    return str(value).replace("|", "\\|")


def render_markdown(walk) -> str:
    out: list[str] = []
    for block in blocks(walk):
        if isinstance(block, Heading):
            out.append("#" * block.level + " " + block.text + "\n")
        elif isinstance(block, Para):
            out.append(block.text + "\n")
        elif isinstance(block, Equation):
            out.append(f"$$ {block.latex} $$\n")
        elif isinstance(block, Table):
            out.append("| " + " | ".join(latex.replace("|", "\\|") for _, latex in block.headers) + " |")
            out.append("|" + "---:|" * len(block.headers))
            out.extend("| " + " | ".join(_cell_markdown(v) for v in row) + " |" for row in block.rows)
            out.append("")
        elif isinstance(block, Checks):
            out.append("| check | max \\|hand − framework\\| | tolerance | result |")
            out.append("|---|---:|---|---|")
            for c in block.checks:
                tolerance = _tolerance(c).replace("|", "\\|")
                out.append(f"| {c.framework} | {c.max_abs_diff:.3e} | {tolerance} | **{_verdict(c)}** |")
            out.append("")
    out.append(f"**{_summary(walk)}**\n")
    return "\n".join(out)


# -- latex ----------------------------------------------------------------------------------------

_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"}
_UNICODE = {"ŷ": r"$\hat y$", "−": "-", "δ": r"$\delta$", "∂": r"$\partial$", "θ": r"$\theta$",
            "⊙": r"$\odot$", "σ": r"$\sigma$", "·": r"$\cdot$", "²": r"$^2$", "ᵀ": r"$^\top$", "×": r"$\times$",
            "|": r"$|$"}


def _tex(text: str) -> str:
    out = "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)
    for k, v in _UNICODE.items():
        out = out.replace(k, v)
    return out


def _tex_number(value: float) -> str:
    r"""A number in math mode: 1.5e-05 becomes 1.5 \cdot 10^{-5}."""
    text = number(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return rf"{mantissa} \cdot 10^{{{int(exponent)}}}"


def _cell_latex(value) -> str:
    if isinstance(value, np.ndarray):
        rows = value.reshape(-1, 1) if value.ndim == 1 else value
        body = r" \\ ".join(" & ".join(_tex_number(v) for v in row) for row in rows)
        return rf"$\begin{{pmatrix}} {body} \end{{pmatrix}}$"
    if isinstance(value, float):
        return f"${_tex_number(value)}$"
    return _tex(str(value))


def render_latex(walk) -> str:
    out = [r"\documentclass[10pt]{article}", r"\usepackage[a4paper,landscape,margin=1.5cm]{geometry}",
           r"\usepackage{amsmath}", r"\usepackage{longtable}", r"\setcounter{MaxMatrixCols}{40}", r"\begin{document}", r"\footnotesize", ""]
    sections = {1: "section*", 2: "subsection*", 3: "paragraph*"}
    for block in blocks(walk):
        if isinstance(block, Heading):
            out.append(rf"\{sections[block.level]}{{{_tex(block.text)}}}")
        elif isinstance(block, Para):
            out.append(_tex(block.text) + "\n")
        elif isinstance(block, Equation):
            out.append(rf"\[ {block.latex} \]")
        elif isinstance(block, Table):
            out.append(r"\begin{longtable}{" + "r" * len(block.headers) + "}")
            out.append(" & ".join(latex if "$" in latex else _tex(latex) for _, latex in block.headers)
                       + r" \\ \hline \endhead")
            out.extend(" & ".join(_cell_latex(v) for v in row) + r" \\" for row in block.rows)
            out.append(r"\end{longtable}" + "\n")
        elif isinstance(block, Checks):
            out.append(r"\begin{tabular}{lrll}")
            out.append(r"check & max $|$hand $-$ framework$|$ & tolerance & result \\ \hline")
            for c in block.checks:
                out.append(rf"{_tex(c.framework)} & {c.max_abs_diff:.3e} & {_tex(_tolerance(c))} & "
                           rf"\textbf{{{_verdict(c)}}} \\")
            out.append(r"\end{tabular}" + "\n")
    out += [rf"\textbf{{{_tex(_summary(walk))}}}", r"\end{document}", ""]
    return "\n".join(out)


# -- html -----------------------------------------------------------------------------------------


def _cell_html(value) -> str:
    if isinstance(value, np.ndarray):
        rows = value.reshape(-1, 1) if value.ndim == 1 else value
        return "<br>".join(" ".join(number(v) for v in row) for row in rows)
    if isinstance(value, float):
        return number(value)
    return html.escape(str(value))


def render_html(walk) -> str:
    """A self-contained fragment: headings, equations, tables; no scripts, no external files."""
    out = ['<section class="rnnlab-explain">',
           "<style>.rnnlab-explain td.n{text-align:right;font-family:monospace;white-space:nowrap}"
           ".rnnlab-explain .pass{color:green;font-weight:bold}.rnnlab-explain .fail{color:red;font-weight:bold}</style>"]
    for block in blocks(walk):
        if isinstance(block, Heading):
            level = block.level + 1
            out.append(f"<h{level}>{html.escape(block.text)}</h{level}>")
        elif isinstance(block, Para):
            out.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Equation):
            out.append(f'<p class="equation"><code>{html.escape(block.plain)}</code></p>')
        elif isinstance(block, Table):
            out.append('<table class="numbers"><thead><tr>'
                       + "".join(f"<th>{html.escape(p)}</th>" for p, _ in block.headers) + "</tr></thead><tbody>")
            for row in block.rows:
                out.append("<tr>" + "".join(f'<td class="n">{_cell_html(v)}</td>' for v in row) + "</tr>")
            out.append("</tbody></table>")
        elif isinstance(block, Checks):
            out.append('<table class="checks"><thead><tr><th>check</th><th>max |hand − framework|</th>'
                       "<th>tolerance</th><th>result</th></tr></thead><tbody>")
            for c in block.checks:
                out.append(f'<tr><td>{html.escape(c.framework)}</td><td class="n">{c.max_abs_diff:.3e}</td>'
                           f"<td>{html.escape(_tolerance(c))}</td>"
                           f'<td class="{"pass" if c.passed else "fail"}">{_verdict(c)}</td></tr>')
            out.append("</tbody></table>")
    out.append(f"<p><strong>{html.escape(_summary(walk))}</strong></p>")
    out.append("</section>")
    return "\n".join(out) + "\n"


# -- wolfram --------------------------------------------------------------------------------------


def wl_number(value: float) -> str:
    """A number as the Wolfram Language reads it (no 'e' exponents)."""
    text = f"{float(value):.10g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"({mantissa}*10^{int(exponent)})"
    return text


def wl_vector(values) -> str:
    return "{" + ", ".join(wl_number(v) for v in np.asarray(values).ravel()) + "}"


def wl_matrix(values) -> str:
    return "{" + ", ".join(wl_vector(row) for row in np.atleast_2d(values)) + "}"


_WL_ACT = {"tanh": "Tanh", "relu": "Ramp", "sigmoid": "LogisticSigmoid"}


def _wl_layer(walk: ForwardWalk, ls, step_label: str) -> list[str]:
    p, H, l = walk.parameters, walk.hidden_size, ls.layer
    lines = []
    values = {}
    for k, term in enumerate(ls.terms):
        s = slice(k * H, (k + 1) * H)
        W_ih, W_hh = p[f"weight_ih_l{l}"][s], p[f"weight_hh_l{l}"][s]
        b_ih, b_hh = p[f"bias_ih_l{l}"][s], p[f"bias_hh_l{l}"][s]
        hidden = f"{wl_matrix(W_hh)} . {wl_vector(ls.h_prev)} + {wl_vector(b_hh)}"
        if term.reset is not None:
            hidden = f"{wl_vector(term.reset)} * ({hidden})"
        expr = f"{_WL_ACT[term.activation]}[{wl_matrix(W_ih)} . {wl_vector(ls.x)} + {wl_vector(b_ih)} + {hidden}]"
        name = "h_t" if term.name == "h" else f"{term.name}_t"
        lines.append(f"(* {step_label}{name} = {wl_vector(term.value)} *)\n{expr}")
        values[term.name] = term.value
    if ls.c is not None:
        lines.append(f"(* {step_label}c_t = f*c_(t-1) + i*g = {wl_vector(ls.c)} *)\n"
                     f"{wl_vector(values['f'])} * {wl_vector(ls.c_prev)} + {wl_vector(values['i'])} * {wl_vector(values['g'])}")
        lines.append(f"(* {step_label}h_t = o*Tanh[c_t] = {wl_vector(ls.h)} *)\n"
                     f"{wl_vector(values['o'])} * Tanh[{wl_vector(ls.c)}]")
    elif "z" in values:
        lines.append(f"(* {step_label}h_t = (1-z)*n + z*h_(t-1) = {wl_vector(ls.h)} *)\n"
                     f"(1 - {wl_vector(values['z'])}) * {wl_vector(values['n'])} + "
                     f"{wl_vector(values['z'])} * {wl_vector(ls.h_prev)}")
    return lines


def render_wolfram(walk) -> str:
    """One Wolfram Language expression per step (per gate for LSTM and GRU), numbers filled in."""
    fw = walk.forward if isinstance(walk, BackwardWalk) else walk
    out = [f"(* rnnlab: {fw.cell} forward pass by hand; paste each expression into Wolfram Alpha. *)"]
    if fw.readout == "unit":
        out.append("(* The prediction is the last entry of the top layer's h_t. *)")
    for step in fw.steps:
        out.append(f"\n(* t = {step.t + 1}, x_t = {wl_number(step.x)}{' (fed back)' if step.fed_back else ''} *)")
        for ls in step.layers:
            label = f"layer {ls.layer}: " if fw.num_layers > 1 else ""
            out.extend(_wl_layer(fw, ls, label))
        if fw.readout == "linear":
            w, b = fw.parameters["readout.weight"][0], fw.parameters["readout.bias"][0]
            out.append(f"(* y_hat = w . h_t + b = {wl_number(step.y_hat)} *)\n"
                       f"{wl_vector(w)} . {wl_vector(step.layers[-1].h)} + {wl_number(b)}")
        else:
            out.append(f"(* y_hat = {wl_number(step.y_hat)} *)")
    if isinstance(walk, BackwardWalk):
        out.extend(_wl_backward(walk))
    return "\n".join(out) + "\n"


def _wl_backward(walk: BackwardWalk) -> list[str]:
    fw = walk.forward
    out = [f"\n(* loss L = (y_hat - y)^2 = {wl_number(walk.loss)} *)\n"
           f"({wl_number(walk.prediction)} - {wl_number(walk.target)})^2",
           f"(* dL/dy_hat = 2 (y_hat - y) = {wl_number(walk.dL_dy_hat)} *)\n"
           f"2 ({wl_number(walk.prediction)} - {wl_number(walk.target)})"]
    for step in walk.steps:
        out.append(f"\n(* backward, t = {step.t + 1} *)")
        for lb in step.layers:
            label = f"layer {lb.layer}: " if fw.num_layers > 1 else ""
            forward = fw.steps[step.t].layers[lb.layer]
            if "h" in lb.deltas:
                derivative = (f"(1 - {wl_vector(forward.h)}^2)" if fw.nonlinearity == "tanh"
                              else f"UnitStep[{wl_vector(forward.terms[0].preactivation)}]")
                out.append(f"(* {label}delta_t = dL/dh_t * act'(a_t) = {wl_vector(lb.deltas['h'])} *)\n"
                           f"{wl_vector(lb.dh)} * {derivative}")
            delta_h = lb.contributions[f"bias_hh_l{lb.layer}"]
            expr = f"Transpose[{wl_matrix(fw.parameters[f'weight_hh_l{lb.layer}'])}] . {wl_vector(delta_h)}"
            if fw.cell == "gru":
                z = forward.terms[1].value
                expr += f" + {wl_vector(lb.dh)} * {wl_vector(z)}"
            out.append(f"(* {label}dL/dh_(t-1) = {wl_vector(lb.dh_prev)} *)\n{expr}")
    return out
