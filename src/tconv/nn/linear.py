"""``Linear``, as ``torch.nn.Linear``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _args
from ..autograd import Tensor
from ..functional import activation as A
from . import init
from .conv import _dtype
from .module import Module, Parameter

__all__ = ["Linear"]


class Linear(Module):
    """``y = x W^T + b``; weight (out_features, in_features), PyTorch's initialisation.

    >>> m = Linear(3, 2)
    >>> m
    Linear(in_features=3, out_features=2, bias=True)
    >>> m(np.ones((5, 3))).shape
    (5, 2)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        dt = _dtype(dtype, device, "Linear")
        self.in_features = _args.positive_int(in_features, "in_features", "Linear")
        self.out_features = _args.positive_int(out_features, "out_features", "Linear")
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, input: Any) -> Any:
        if not isinstance(input, Tensor):
            # tconv's dtype rule (:func:`tconv._args.compute_dtype`): ints and bools
            # compute in the parameters' float dtype; complex and object are refused.
            x = _args.as_array(input, "input", "Linear")
            params = [self.weight.data, None if self.bias is None else self.bias.data]
            input = x.astype(_args.compute_dtype(x, *params)[1], copy=False)
        return A.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
