"""``Module`` and ``Parameter``: PyTorch's bookkeeping of layers and their weights.

A Module registers every :class:`Parameter`, sub-Module and buffer assigned to
it as an attribute; names join with dots (``"0.weight"``) exactly as PyTorch's,
so a PyTorch ``state_dict`` loads unchanged.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..autograd import Tensor, unwrap

__all__ = ["Module", "Parameter"]


class Parameter(Tensor):
    """A leaf Tensor that a Module registers as a weight (``requires_grad=True``).

    >>> Parameter(np.zeros(2))
    Parameter containing:
    tensor([0., 0.], requires_grad=True)
    """

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(np.array(unwrap(data)), requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers: override :meth:`forward`, call the module.

    >>> class Affine(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.scale = Parameter(np.ones(3))
    ...     def forward(self, x):
    ...         return x * self.scale
    >>> m = Affine()
    >>> [name for name, _ in m.named_parameters()]
    ['scale']
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration -----------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() call; "
                "call super().__init__() first"
            )
        if isinstance(value, Parameter):
            table: dict[str, Any] = self._parameters
        elif isinstance(value, Module):
            table = self._modules
        elif name in self._parameters and value is None:
            table = self._parameters
        elif name in self._buffers:
            table, value = self._buffers, (None if value is None else np.asarray(unwrap(value)))
        else:
            for t in (self._parameters, self._modules, self._buffers):
                t.pop(name, None)
            object.__setattr__(self, name, value)
            return
        for t in (self._parameters, self._modules, self._buffers):
            if t is not table:
                t.pop(name, None)
        table[name] = value
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for table in ("_parameters", "_modules", "_buffers"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._modules, self._buffers):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` under ``name`` (None keeps the slot, as ``bias=False`` does)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: {name!r} must be a Parameter or None, "
                f"got {type(param).__name__}"
            )
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name: str, value: Any, persistent: bool = True) -> None:
        """Register a non-trainable array (running statistics) that ``state_dict`` saves."""
        self.__dict__.pop(name, None)
        self._buffers[name] = None if value is None else np.asarray(value)
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        self._modules[name] = module

    # -- calling ------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- traversal ----------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_parameters(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(name, Parameter) pairs, each Parameter once, in registration order."""
        seen: set[int] = set()
        mods = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mp, m in mods:
            for name, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mp}.{name}" if mp else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for mp, m in self.named_modules(prefix):
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mp}.{name}" if mp else name), b

    def buffers(self) -> Iterator[np.ndarray]:
        for _, b in self.named_buffers():
            yield b

    # -- state --------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Parameters and persistent buffers by PyTorch name, as ndarrays (shared, not copied)."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for mp, m in self.named_modules():
            skip = m.__dict__.get("_non_persistent", set())
            for table in (m._parameters, m._buffers):
                for name, v in table.items():
                    if v is not None and name not in skip:
                        out[f"{mp}.{name}" if mp else name] = unwrap(v)
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> Any:
        """Copy arrays (or PyTorch tensors) into the parameters and buffers, in place.

        With ``strict=True`` missing or unexpected keys raise a KeyError that lists
        them; a shape mismatch always raises a ValueError. Returns
        ``(missing_keys, unexpected_keys)``.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict for {type(self).__name__}: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        for k, v in state_dict.items():
            if k not in own:
                continue
            arr = np.asarray(
                v.detach().cpu()
                if hasattr(v, "detach") and not isinstance(v, Tensor)
                else unwrap(v)
            )
            if arr.shape != own[k].shape:
                raise ValueError(
                    f"load_state_dict for {type(self).__name__}: size mismatch for {k!r}: "
                    f"the checkpoint has shape {arr.shape}, the module has {own[k].shape}"
                )
            own[k][...] = arr
        return missing, unexpected

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad[...] = 0

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    # -- dtype moves ------------------------------------------------------------------
    def _cast(self, dtype: np.dtype, floating_only: bool) -> Module:
        """Cast parameters (and their ``.grad``) and buffers to ``dtype`` in place.

        The Parameter objects are kept (their ``.data`` is replaced), so optimisers
        and other references created before still see them.
        """
        for p in self.parameters():
            if floating_only and p.data.dtype.kind != "f":
                continue
            p.data = p.data.astype(dtype, copy=False)
            if p.grad is not None:
                p.grad = p.grad.astype(dtype, copy=False)
        for m in self.modules():
            for name, b in m._buffers.items():
                if b is not None and (b.dtype.kind == "f" or not floating_only):
                    m._buffers[name] = b.astype(dtype, copy=False)
        return self

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64, in place; returns self.

        >>> from tconv.nn import Linear
        >>> Linear(2, 1).double().weight.dtype
        dtype('float64')
        """
        return self._cast(np.dtype(np.float64), floating_only=True)

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32, in place; returns self."""
        return self._cast(np.dtype(np.float32), floating_only=True)

    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> Module:
        """Cast floating-point parameters and buffers to ``dtype``, in place; returns self.

        As ``torch.nn.Module.to``: ``m.to(np.float64)``, ``m.to("float32")``,
        ``m.to(dtype=...)``; integer buffers (``num_batches_tracked``) are kept. The
        only device is ``"cpu"`` (accepted, and a no-op). PyTorch dtypes (``torch.float64``)
        raise a TypeError: pass the NumPy dtype.

        >>> from tconv.nn import Linear
        >>> Linear(2, 1).to("float64").bias.dtype
        dtype('float64')
        """
        if len(args) > 2:
            raise TypeError(f"Module.to: takes at most 2 positional arguments, got {len(args)}")
        for a in args:
            if _is_device(a):
                if device is not None:
                    raise TypeError("Module.to: device given twice")
                device = a
            elif dtype is None:
                dtype = a
            else:
                raise TypeError(f"Module.to: dtype given twice ({dtype!r} and {a!r})")
        if device is not None and str(device) != "cpu":
            raise ValueError(
                f"Module.to: tconv runs on the CPU only; device must be 'cpu', got {device!r}"
            )
        if dtype is None:
            return self
        return self._cast(_float_dtype(dtype, "Module.to"), floating_only=True)

    def type(self, dst_type: Any) -> Module:
        """Cast *all* parameters and buffers to the floating dtype ``dst_type``, in place
        (integer buffers too, as ``torch.nn.Module.type``); returns self."""
        return self._cast(_float_dtype(dst_type, "Module.type"), floating_only=False)

    # -- printing -----------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + _indent(repr(m)) for name, m in self._modules.items()]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = ([extra] if extra else []) + lines
        return f"{type(self).__name__}(\n  " + "\n  ".join(body) + "\n)"


_DEVICES = ("cpu", "cuda", "mps", "xpu", "meta", "hip")


def _is_device(value: Any) -> bool:
    """A device name (``"cpu"``, ``"cuda:0"``) or a ``torch.device``."""
    if isinstance(value, str):
        return value.partition(":")[0] in _DEVICES
    return type(value).__name__ == "device"


def _float_dtype(value: Any, fn: str) -> np.dtype:
    """``value`` (a NumPy dtype, scalar type or name) as a floating NumPy dtype."""
    if value is None:
        raise TypeError(f"{fn}: dtype must be a NumPy floating dtype, got None")
    if type(value).__module__.startswith("torch"):
        raise TypeError(
            f"{fn}: dtype must be a NumPy dtype (np.float32, np.float64) or its name "
            f"('float32', 'float64'), got the PyTorch object {value!r}; tconv holds NumPy "
            f"arrays, pass e.g. np.{str(value).rpartition('.')[2]}"
        )
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise TypeError(
            f"{fn}: dtype must be a NumPy dtype (np.float32, np.float64) or its name "
            f"('float32', 'float64'), got {type(value).__name__} {value!r}"
        ) from None
    if dtype.kind != "f":
        raise TypeError(
            f"{fn}: only floating point dtypes are accepted (float16, float32, float64), "
            f"got dtype {dtype}"
        )
    return dtype


def _indent(s: str) -> str:
    return s.replace("\n", "\n  ")
