"""Demonstrations on real data, trained with tconv alone (the ``demo`` extra).

* :mod:`tconv.demos.autoencoder`: one autoencoder, five up-sampling layers
  (transposed convolutions, resize-convolutions, sub-pixel + ICNR), trained
  and measured for checkerboard artifacts (``tconv demo digits``);
* :mod:`tconv.demos.dream`: "optimising the input" of a classifier, and the
  checkerboard that strided convolutions leave in its gradient
  (``tconv demo dream``);
* :mod:`tconv.demos.progress`: the progress bar both use.

Nothing here is imported by ``import tconv``; matplotlib is imported only
when figures are written.
"""

from __future__ import annotations

__all__ = ["autoencoder", "dream", "progress"]
