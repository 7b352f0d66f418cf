"""The lecture itself: its worked examples, the figures, the tour, the demos and their data.

Everything here is built on the public ops (:mod:`tconv.functional`, :mod:`tconv.nn`)
and the analysis modules; nothing below imports from here.
"""
