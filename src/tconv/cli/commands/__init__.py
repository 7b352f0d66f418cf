"""Sub-commands of the ``tconv`` command line; see :mod:`tconv.cli`."""
