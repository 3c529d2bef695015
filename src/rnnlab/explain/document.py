"""A walk laid out as a document: headings, equations, tables of numbers, checks.

Every format but json and wolfram renders this one layout, so the terminal view, the Markdown
and LaTeX worksheets and the HTML fragment show the same numbers in the same order. Equations
and column headers come in two spellings: plain (unicode) and LaTeX.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Union

import numpy as np

from .records import BackwardWalk, LayerBack
from .records import Check, ForwardWalk, LayerStep


@dataclass(frozen=True)
class Heading:
    level: int  # 1: the title, 2: a section, 3: a step
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Equation:
    plain: str
    latex: str


@dataclass(frozen=True)
class Table:
    headers: tuple[tuple[str, str], ...]  # (plain, latex) per column
    rows: tuple[tuple, ...]  # cells: str, float, or np.ndarray (vector or matrix)


@dataclass(frozen=True)
class Checks:
    checks: tuple[Check, ...]


Block = Union[Heading, Para, Equation, Table, Checks]

CELL_NAMES = {"rnn": "RNN (Elman)", "lstm": "LSTM", "gru": "GRU"}

EQUATIONS = {
    "rnn": [("h_t = {act}(W_ih·x_t + b_ih + W_hh·h_{{t-1}} + b_hh)",
             r"h_t = \{act}(W_{{ih}} x_t + b_{{ih}} + W_{{hh}} h_{{t-1}} + b_{{hh}})")],
    "lstm": [
        ("i_t = σ(W_ii·x_t + b_ii + W_hi·h_{t-1} + b_hi)", r"i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})"),
        ("f_t = σ(W_if·x_t + b_if + W_hf·h_{t-1} + b_hf)", r"f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})"),
        ("g_t = tanh(W_ig·x_t + b_ig + W_hg·h_{t-1} + b_hg)", r"g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})"),
        ("o_t = σ(W_io·x_t + b_io + W_ho·h_{t-1} + b_ho)", r"o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})"),
        ("c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t", r"c_t = f_t \odot c_{t-1} + i_t \odot g_t"),
        ("h_t = o_t ⊙ tanh(c_t)", r"h_t = o_t \odot \tanh(c_t)"),
    ],
    "gru": [
        ("r_t = σ(W_ir·x_t + b_ir + W_hr·h_{t-1} + b_hr)", r"r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})"),
        ("z_t = σ(W_iz·x_t + b_iz + W_hz·h_{t-1} + b_hz)", r"z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})"),
        ("n_t = tanh(W_in·x_t + b_in + r_t ⊙ (W_hn·h_{t-1} + b_hn))",
         r"n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))"),
        ("h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}", r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}"),
    ],
}


def _cell_title(walk: ForwardWalk) -> str:
    cell = CELL_NAMES[walk.cell] + (f" {walk.nonlinearity}" if walk.cell == "rnn" else "")
    layers = f"{walk.num_layers} layer{'s' if walk.num_layers > 1 else ''}"
    readout = "the last hidden unit" if walk.readout == "unit" else "a linear readout"
    return f"{cell}, {layers} of {walk.hidden_size} units, prediction from {readout}"


def _equations(walk: ForwardWalk) -> Iterator[Block]:
    act = walk.nonlinearity
    act_tex = r"\tanh" if act == "tanh" else r"\mathrm{relu}"
    for plain, latex in EQUATIONS[walk.cell]:
        if walk.cell == "rnn":
            plain, latex = plain.format(act=act), latex.replace(r"\{act}", act_tex).replace("{{", "{").replace("}}", "}")
        yield Equation(plain, latex)
    if walk.num_layers > 1:
        yield Para("Layer l > 0 takes h_t of the layer below as its input x_t.")
    if walk.readout == "unit":
        yield Equation(f"ŷ_t = h_t[{walk.hidden_size - 1}] (top layer)", rf"\hat y_t = h_t[{walk.hidden_size - 1}]")
    else:
        yield Equation("ŷ_t = w·h_t + b (top layer)", r"\hat y_t = w \cdot h_t + b")


def _parameters(walk: ForwardWalk) -> Iterator[Block]:
    if walk.decimals is None:
        yield Para("Weights: the model's float32 values; the arithmetic runs in float64.")
    else:
        yield Para(f"Weights: rounded to {walk.decimals} decimals, as copied from a printout.")
    rows = tuple((name, "×".join(map(str, value.shape)), value) for name, value in walk.parameters.items())
    yield Table((("parameter", "parameter"), ("shape", "shape"), ("values", "values")), rows)


_ACT = {"sigmoid": ("σ", r"\sigma"), "tanh": ("tanh", r"\tanh"), "relu": ("relu", r"\mathrm{relu}")}


def _layer_tables(ls: LayerStep) -> Iterator[Table]:
    """RNN: one table, a row per unit. LSTM/GRU: a row per gate and unit, then the new state."""
    H = ls.h.shape[0]
    if ls.terms[0].name == "h":
        term = ls.terms[0]
        act, act_tex = _ACT[term.activation]
        headers = (("unit", "unit"), ("h_{t-1}", "$h_{t-1}$"), ("W_ih·x_t", "$W_{ih} x_t$"), ("b_ih", "$b_{ih}$"),
                   ("W_hh·h_{t-1}", "$W_{hh} h_{t-1}$"), ("b_hh", "$b_{hh}$"), ("sum a_t", "sum $a_t$"),
                   (f"h_t = {act}(a_t)", f"$h_t = {act_tex}(a_t)$"))
        columns = (ls.h_prev, term.W_ih_x, term.b_ih, term.W_hh_h, term.b_hh, term.preactivation, term.value)
        yield Table(headers, tuple((str(u),) + tuple(float(c[u]) for c in columns) for u in range(H)))
        return
    gru = ls.terms[0].name == "r"
    headers = [("gate", "gate"), ("unit", "unit"), ("W_i·x_t", r"$W_{i\cdot} x_t$"), ("b_i·", r"$b_{i\cdot}$"),
               ("W_h·h_{t-1}", r"$W_{h\cdot} h_{t-1}$"), ("b_h·", r"$b_{h\cdot}$")]
    if gru:
        headers.append(("r ⊙ (W_h·h + b_h·)", r"$r_t \odot (W_{hn} h_{t-1} + b_{hn})$"))
    headers += [("sum a", "sum $a$"), ("act", "act"), ("value", "value")]
    rows = []
    for term in ls.terms:
        act, act_tex = _ACT[term.activation]
        for u in range(H):
            row = [term.name, str(u), float(term.W_ih_x[u]), float(term.b_ih[u]), float(term.W_hh_h[u]), float(term.b_hh[u])]
            if gru:
                row.append(float(term.reset[u] * (term.W_hh_h[u] + term.b_hh[u])) if term.reset is not None else "")
            row += [float(term.preactivation[u]), act, float(term.value[u])]
            rows.append(tuple(row))
    yield Table(tuple(headers), tuple(rows))
    if gru:
        headers = (("unit", "unit"), ("h_{t-1}", "$h_{t-1}$"), ("h_t = (1−z)⊙n + z⊙h_{t-1}",
                   r"$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$"))
        columns = (ls.h_prev, ls.h)
    else:
        headers = (("unit", "unit"), ("h_{t-1}", "$h_{t-1}$"), ("c_{t-1}", "$c_{t-1}$"),
                   ("c_t = f⊙c_{t-1} + i⊙g", r"$c_t = f_t \odot c_{t-1} + i_t \odot g_t$"),
                   ("tanh(c_t)", r"$\tanh(c_t)$"), ("h_t = o⊙tanh(c_t)", r"$h_t = o_t \odot \tanh(c_t)$"))
        columns = (ls.h_prev, ls.c_prev, ls.c, ls.tanh_c, ls.h)
    yield Table(headers, tuple((str(u),) + tuple(float(c[u]) for c in columns) for u in range(H)))


def forward_blocks(walk: ForwardWalk, title: bool = True, checks: bool = True) -> Iterator[Block]:
    if title:
        yield Heading(1, "Forward pass by hand")
        yield Para(_cell_title(walk))
    yield Heading(2, "Equations")
    yield from _equations(walk)
    yield Heading(2, "Weights")
    yield from _parameters(walk)
    yield Heading(2, "Steps")
    T = len(walk.context)
    for step in walk.steps:
        source = "fed back: ŷ of the step before" if step.fed_back else f"context value {step.t + 1} of {T}"
        yield Heading(3, f"t = {step.t + 1}: x_t = {step.x!r} ({source})")
        for ls in step.layers:
            if len(step.layers) > 1:
                yield Para(f"layer {ls.layer}" + (" (input: h_t of the layer below)" if ls.layer else ""))
            yield from _layer_tables(ls)
        if step.w_h is None:
            yield Equation(f"ŷ_t = h_t[{walk.hidden_size - 1}] = {step.y_hat!r}",
                           rf"\hat y_{{{step.t + 1}}} = h_{{{step.t + 1}}}[{walk.hidden_size - 1}] = {step.y_hat!r}")
        else:
            yield Equation(f"ŷ_t = w·h_t + b = {step.w_h!r} + {step.b!r} = {step.y_hat!r}",
                           rf"\hat y_{{{step.t + 1}}} = w \cdot h_{{{step.t + 1}}} + b = {step.w_h!r} + {step.b!r} = {step.y_hat!r}")
    yield Heading(2, "Result")
    yield Equation(f"prediction after the context: {walk.prediction!r}", rf"\hat y_{{{T}}} = {walk.prediction!r}")
    if walk.ahead:
        rows = tuple((str(k), value) for k, value in enumerate(walk.predictions))
        yield Table((("ahead", "ahead"), ("prediction", "prediction")), rows)
    if walk.rounding is not None:
        r = walk.rounding
        yield Heading(2, f"Paper precision: weights rounded to {r.decimals} decimals")
        yield Para(f"Largest change of a weight: {r.max_weight_change:.3g}.")
        rows = tuple((str(k), e, v, s) for k, (e, v, s) in enumerate(zip(r.exact, r.rounded, r.shift)))
        yield Table((("ahead", "ahead"), ("exact weights", "exact weights"),
                     (f"rounded to {r.decimals}", f"rounded to {r.decimals}"), ("shift", "shift")), rows)
    if walk.checks and checks:
        yield Heading(2, "Check against the framework")
        yield _reference_table(walk)
        yield Checks(walk.checks)


def _reference_table(walk: ForwardWalk) -> Table:
    """Every ŷ_t by hand next to the framework's own output for the same inputs and weights."""
    headers = [("t", "t"), ("ŷ_t by hand", r"$\hat y_t$ by hand")]
    for check in walk.checks:
        name = check.framework.split(" (")[0]
        headers += [(name, name), ("|diff|", "|diff|")]
    rows = []
    for k, step in enumerate(walk.steps):
        row = [str(step.t + 1), repr(step.y_hat)]
        for check in walk.checks:
            row += [repr(check.reference[k]), f"{abs(check.hand[k] - check.reference[k]):.1e}"]
        rows.append(tuple(row))
    return Table(tuple(headers), tuple(rows))


def _back_tables(lb: LayerBack) -> Iterator[Table]:
    """Where ∂L/∂h_t comes from, then the gates' gradients and deltas (a row per gate and unit)."""
    H = lb.dh.shape[0]
    headers = [("unit", "unit"), ("from readout", "from readout"), ("from t+1", "from $t+1$"),
               ("from above", "from above"), ("∂L/∂h_t", r"$\partial L/\partial h_t$")]
    columns = [lb.dh_readout, lb.dh_next, lb.dh_above, lb.dh]
    if lb.dc is not None:
        headers.append(("∂L/∂c_t", r"$\partial L/\partial c_t$"))
        columns.append(lb.dc)
    if "h" in lb.deltas:
        headers.append(("δ = ∂L/∂a_t", r"$\delta_t = \partial L/\partial a_t$"))
        columns.append(lb.deltas["h"])
    headers += [("∂L/∂h_{t-1}", r"$\partial L/\partial h_{t-1}$")]
    columns += [lb.dh_prev]
    yield Table(tuple(headers), tuple((str(u),) + tuple(float(c[u]) for c in columns) for u in range(H)))
    if "h" not in lb.deltas:
        headers = (("gate", "gate"), ("unit", "unit"), ("∂L/∂gate", r"$\partial L/\partial \text{gate}$"),
                   ("δ = ∂L/∂a", r"$\delta = \partial L/\partial a$"))
        rows = tuple((g, str(u), float(lb.gates[g][u]), float(lb.deltas[g][u])) for g in lb.deltas for u in range(H))
        yield Table(headers, rows)


DELTA_RULE = {
    "rnn": {"tanh": ("δ_t = ∂L/∂h_t ⊙ (1 − h_t²)", r"\delta_t = \frac{\partial L}{\partial h_t} \odot (1 - h_t^2)"),
            "relu": ("δ_t = ∂L/∂h_t ⊙ [a_t > 0]", r"\delta_t = \frac{\partial L}{\partial h_t} \odot [a_t > 0]")},
}


def backward_blocks(walk: BackwardWalk) -> Iterator[Block]:
    fw = walk.forward
    yield Heading(1, "Backpropagation through time by hand")
    yield Para(_cell_title(fw))
    yield Para(f"One training sample: {len(fw.context)} context values, target y = {walk.target!r}.")
    yield from forward_blocks(fw, title=False, checks=False)
    yield Heading(2, "Loss")
    y = f"({walk.target!r})" if walk.target < 0 else repr(walk.target)
    yield Equation(f"L = (ŷ_T − y)² = ({walk.prediction!r} − {y})² = {walk.loss!r}",
                   rf"L = (\hat y_T - y)^2 = ({walk.prediction!r} - {y})^2 = {walk.loss!r}")
    yield Equation(f"∂L/∂ŷ_T = 2(ŷ_T − y) = {walk.dL_dy_hat!r}",
                   rf"\frac{{\partial L}}{{\partial \hat y_T}} = 2(\hat y_T - y) = {walk.dL_dy_hat!r}")
    if walk.readout:
        yield Equation("∂L/∂w = ∂L/∂ŷ_T · h_T,  ∂L/∂b = ∂L/∂ŷ_T",
                       r"\frac{\partial L}{\partial w} = \frac{\partial L}{\partial \hat y_T} h_T,\quad "
                       r"\frac{\partial L}{\partial b} = \frac{\partial L}{\partial \hat y_T}")
        yield Table((("parameter", "parameter"), ("gradient", "gradient")),
                    tuple((k, v) for k, v in walk.readout.items()))
    yield Heading(2, "Steps, from the last to the first")
    if fw.cell == "rnn":
        yield Equation(*DELTA_RULE["rnn"][fw.nonlinearity])
    yield Equation("∂L/∂W_ih += δ_i x_tᵀ,  ∂L/∂b_ih += δ_i,  ∂L/∂W_hh += δ_h h_{t-1}ᵀ,  ∂L/∂b_hh += δ_h",
                   r"\frac{\partial L}{\partial W_{ih}} \mathrel{+}= \delta_i x_t^\top,\ "
                   r"\frac{\partial L}{\partial b_{ih}} \mathrel{+}= \delta_i,\ "
                   r"\frac{\partial L}{\partial W_{hh}} \mathrel{+}= \delta_h h_{t-1}^\top,\ "
                   r"\frac{\partial L}{\partial b_{hh}} \mathrel{+}= \delta_h")
    for step in walk.steps:
        yield Heading(3, f"t = {step.t + 1}")
        for lb in step.layers:
            if len(step.layers) > 1:
                yield Para(f"layer {lb.layer}")
            yield from _back_tables(lb)
            rows = tuple((k, v, lb.totals[k]) for k, v in lb.contributions.items())
            yield Table((("parameter", "parameter"), ("this step", "this step"), ("total so far", "total so far")), rows)
    yield Heading(2, "Gradients and the SGD update")
    wd = f" + {walk.weight_decay!r}·θ" if walk.weight_decay else ""
    yield Equation(f"θ ← θ − {walk.lr!r}·(∂L/∂θ{wd})",
                   rf"\theta \leftarrow \theta - {walk.lr!r}\,(\partial L/\partial\theta{wd.replace('·', ' ')})")
    rows = []
    for name, gradient in walk.gradients.items():
        theta, after = fw.parameters[name], walk.updated[name]
        for index in np.ndindex(gradient.shape):
            label = f"{name}[{','.join(map(str, index))}]"
            rows.append((label, float(theta[index]), float(gradient[index]), float(after[index])))
    yield Table((("parameter", "parameter"), ("θ", r"$\theta$"), ("∂L/∂θ", r"$\partial L/\partial\theta$"),
                 ("θ after", r"$\theta$ after")), tuple(rows))
    if walk.checks:
        yield Heading(2, "Check against the framework")
        if fw.checks:
            yield _reference_table(fw)
        yield Checks(walk.checks)


def blocks(walk) -> list[Block]:
    if isinstance(walk, BackwardWalk):
        return list(backward_blocks(walk))
    return list(forward_blocks(walk))


def number(value: float, digits: int = 8) -> str:
    """A fixed-point number for tables; scientific when tiny or huge."""
    value = float(value) + 0.0  # no "-0.00000000"
    if value == 0.0 or (1e-4 <= abs(value) < 1e6) or not np.isfinite(value):
        return f"{value:.{digits}f}"
    return f"{value:.{digits - 2}e}"
