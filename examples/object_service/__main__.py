"""``python -m examples.object_service --local``: see README.md beside this file."""

from examples.object_service.cli import main

raise SystemExit(main())
