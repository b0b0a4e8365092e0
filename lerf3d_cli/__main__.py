"""``python -m lerf3d_cli``: the ``lerf3d`` command."""

import sys

from lerf3d_cli.main import main

sys.exit(main())
