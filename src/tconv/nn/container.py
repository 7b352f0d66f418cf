"""``Sequential`` and ``ModuleList``, as PyTorch's (children named "0", "1", ...)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from .module import Module

__all__ = ["ModuleList", "Sequential"]


class Sequential(Module):
    """Modules applied in order.

    >>> from tconv.nn import Linear, ReLU
    >>> net = Sequential(Linear(2, 3), ReLU())
    >>> net
    Sequential(
      (0): Linear(in_features=2, out_features=3, bias=True)
      (1): ReLU()
    )
    >>> [k for k in net.state_dict()]
    ['0.weight', '0.bias']
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, _check(m, name))
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), _check(m, str(i)))

    def forward(self, input: Any) -> Any:
        for m in self._modules.values():
            input = m(input)
        return input

    def __getitem__(self, idx: int | slice) -> Any:
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        if not -len(items) <= idx < len(items):
            raise IndexError(f"Sequential: index {idx} is out of range for {len(items)} modules")
        return items[idx][1]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), _check(module, str(len(self))))
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), _check(module, str(len(self))))
        return self

    def __getitem__(self, idx: int) -> Any:
        return list(self._modules.values())[idx]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


def _check(m: Any, name: str) -> Module:
    if not isinstance(m, Module):
        raise TypeError(f"module {name} must be a tconv.nn.Module, got {type(m).__name__}")
    return m
