"""tanh as branch-free arithmetic, so that numba vectorises the loops that call it (no SVML here).

``math.tanh`` is a call into libm: a loop that calls it stays scalar. ``tanh`` below is written
in operations LLVM has vector forms of (multiply, add, divide, compare-and-select, integer
shift, bit casts), so a loop over the members of a lane group becomes SIMD code:

    y = 2|x| (clamped to 40: tanh(20) is 1 in float64), y = q ln2 + r with q = round(y / ln2),
    |r| <= ln2 / 2 (Cody-Waite: ln2 in two parts, so r is exact to a few ulp);
    e^r − 1 = 2 P / (Q − P), P = r p(r²), Q = q(r²): Cephes' rational approximation of exp;
    with s = 2^q (built from the bits: the exponent field is q + 1023) and N = 2P, D = Q − P,
    e^y − 1 = (s N + (s − 1) D) / D, so
    tanh(|x|) = (e^y − 1) / (e^y + 1) = (s N + (s − 1) D) / (s N + (s + 1) D)

one division, no cancellation near 0 (for q = 0 it is N / (N + 2D)), and the sign put back with
copysign (tanh(−0) = −0; NaN gives NaN, ±inf gives ±1). Measured against libm's tanh over a
dense grid of [−25, 25] and 1e-300 … 1 (tests/test_lanes.py): at most 4 ulp of the result
(``MAX_ULP``), i.e. |error| <= 4.5e-16; 1 in 9 values differs by 1 ulp or more. libm's tanh is
not correctly rounded either. No ``fastmath`` here: it would let LLVM fold the rounding trick
((v + M) − M) and reorder the sums.
"""

from __future__ import annotations

import math

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

MAX_ULP = 4  # tanh's measured error bound against libm's, in ulp of the result


@intrinsic
def _bits(typingctx, x):
    """The bits of a float64 as an int64: an LLVM bitcast, free in SIMD code."""
    if x != types.float64:
        return None
    sig, width = types.int64(types.float64), 64

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(width))

    return sig, codegen


@intrinsic
def _from_bits(typingctx, n):
    """The float64 whose bits are the int64 n."""
    if n != types.int64:
        return None
    sig, kind = types.float64(types.int64), ir.DoubleType()

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], kind)

    return sig, codegen


# Cephes exp: e^r = 1 + 2 r p(r²) / (q(r²) − r p(r²)) on |r| <= ln2 / 2
_P0, _P1, _P2 = 1.26177193074810590878e-4, 3.02994407707441961300e-2, 9.99999999999999999910e-1
_Q0, _Q1, _Q2, _Q3 = 3.00198505138664455042e-6, 2.52448340349684104192e-3, 2.27265548208155028766e-1, 2.0
_LOG2E = 1.4426950408889634
_LN2_HI, _LN2_LO = 6.93145751953125e-1, 1.42860682030941723212e-6  # ln2 = HI + LO, HI * q exact
_ROUND = 6755399441055744.0  # 1.5 * 2^52: v + _ROUND rounds v to an integer, held in the low bits


@njit(cache=True, error_model="numpy", inline="always")
def tanh(x):
    """tanh(x) for float64 x, branch-free (see the module docstring); within MAX_ULP of math.tanh."""
    y = 2.0 * abs(x)
    y = 40.0 if y > 40.0 else y  # NaN stays NaN
    v = y * _LOG2E + _ROUND
    q = v - _ROUND  # round(y / ln2), an integer 0 … 58
    r = (y - q * _LN2_HI) - q * _LN2_LO
    s = _from_bits((_bits(v) + 1023) << 52)  # 2^q: the low bits of v hold q
    rr = r * r
    p = r * ((_P0 * rr + _P1) * rr + _P2)
    n = p + p
    d = ((_Q0 * rr + _Q1) * rr + _Q2) * rr + _Q3 - p
    t = (s * n + (s - 1.0) * d) / (s * n + (s + 1.0) * d)
    return math.copysign(t, x)
