"""``python -m failover``: the same as the ``failover`` console script."""

import sys

from failover.cli import main

sys.exit(main())
