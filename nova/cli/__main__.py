"""``python -m nova.cli``: the ``nova`` command without its console script."""

from nova.cli import main

main()
