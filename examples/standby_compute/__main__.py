"""``python -m examples.standby_compute``: the warm-standby demo on a local moto."""

from examples.standby_compute.cli import main

raise SystemExit(main())
