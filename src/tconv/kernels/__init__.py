"""NumPy compute: the kernel ops (:mod:`.conv`, tables of named fast paths), their
definition (:mod:`.reference`), interpolation (:mod:`.resample`) and the settings.

``trace()`` records which path each kernel call takes; ``route(op, ...)`` names
the path a call would take without computing.
"""

from __future__ import annotations

from .conv import TABLES, route
from .paths import Path, trace

__all__ = ["TABLES", "Path", "route", "trace"]
