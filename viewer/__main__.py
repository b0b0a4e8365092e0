"""``python -m viewer CKPT``: the ``lerf3d view`` command on its own."""

import sys

from viewer.cli import main

sys.exit(main())
