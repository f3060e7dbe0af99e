"""``python -m examples.async_reads --local``: see README.md beside this file."""

from examples.async_reads.cli import main

raise SystemExit(main())
