"""``python -m daemon`` is the ``harvestd`` command."""

from daemon.cli import main

raise SystemExit(main())
