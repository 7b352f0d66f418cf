"""The data sets of the demos, at their public path: they live in :mod:`tconv.lecture.data`."""

from __future__ import annotations

from .lecture.data import *  # noqa: F403
from .lecture.data import __all__ as __all__
