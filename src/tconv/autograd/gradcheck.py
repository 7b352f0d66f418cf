"""Finite-difference check of recorded gradients, as ``torch.autograd.gradcheck``.

For a function of Tensors, the analytic Jacobian (one backward pass per output
element) is compared with central differences ``(f(x + eps) - f(x - eps)) / 2 eps``
in float64. PyTorch is not needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .engine import Tensor
from .mode import no_grad

__all__ = ["GradcheckError", "gradcheck"]


class GradcheckError(ValueError):
    """Raised when analytic and numerical Jacobians differ."""


def _outputs(result: Any) -> list[Tensor]:
    outs = list(result) if isinstance(result, (tuple, list)) else [result]
    return [o for o in outs if isinstance(o, Tensor)]


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any] | Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """True when ``fn``'s gradients match central finite differences.

    ``inputs`` are Tensors (those with ``requires_grad=True`` are checked; they
    must be float64) or other arguments passed through. ``fn`` returns a Tensor
    or a tuple of Tensors. The check passes when
    ``|analytic - numerical| <= atol + rtol |numerical|`` everywhere.

    >>> import tconv
    >>> x = tconv.tensor(np.random.default_rng(0).standard_normal((1, 2, 5)), requires_grad=True)
    >>> w = tconv.tensor(np.random.default_rng(1).standard_normal((2, 3, 3)), requires_grad=True)
    >>> gradcheck(lambda x, w: tconv.functional.conv_transpose1d(x, w, stride=2), (x, w))
    True
    """
    args = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    checked = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in checked:
        if args[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} must be float64 for finite differences to be "
                f"meaningful, got {args[i].dtype}"
            )
    outs = _outputs(fn(*args))
    sizes = [o.data.size for o in outs]
    # Analytic Jacobian, one row per output element: J[i][r] = d out_flat[r] / d input_i.
    analytic = [np.zeros((sum(sizes), args[i].data.size)) for i in checked]
    row = 0
    for k, size in enumerate(sizes):
        for r in range(size):
            for i in checked:
                args[i].grad = None
            outs = _outputs(fn(*args))
            seed = np.zeros(outs[k].shape)
            seed.flat[r] = 1.0
            if outs[k].requires_grad:
                outs[k].backward(seed)
            for j, i in enumerate(checked):
                g = args[i].grad
                if g is not None:
                    analytic[j][row] = g.ravel()
            row += 1
    for i in checked:
        args[i].grad = None
    ok = True
    for j, i in enumerate(checked):
        x = args[i].data
        numerical = np.zeros_like(analytic[j])
        with no_grad():
            for e in range(x.size):
                orig = x.flat[e]
                x.flat[e] = orig + eps
                plus = np.concatenate([o.data.ravel() for o in _outputs(fn(*args))])
                x.flat[e] = orig - eps
                minus = np.concatenate([o.data.ravel() for o in _outputs(fn(*args))])
                x.flat[e] = orig
                numerical[:, e] = (plus - minus) / (2 * eps)
        bad = np.abs(analytic[j] - numerical) > atol + rtol * np.abs(numerical)
        if bad.any():
            ok = False
            if raise_exception:
                r, c = np.argwhere(bad)[0]
                raise GradcheckError(
                    f"gradcheck: Jacobian mismatch for input {i} (output element {r}, input "
                    f"element {c}): analytic {analytic[j][r, c]!r}, numerical "
                    f"{numerical[r, c]!r}; max abs difference "
                    f"{np.abs(analytic[j] - numerical).max():.3e}"
                )
    return ok
