"""``python -m mnistdesk``: the same as the ``mnistdesk`` command."""

import sys

from mnistdesk.cli import main

sys.exit(main())
