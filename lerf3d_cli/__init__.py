"""The ``lerf3d`` command line: lerf3d's stage commands, the viewer's ``view`` and the demo in one
parser.

It sits above every other package (it may import ``lerf3d``, ``viewer`` and ``data_tools``; none of
them imports it), so that ``lerf3d`` itself never imports the viewer or the scene generator. Building
the parser imports no torch: each command imports its stage when it runs.

- :mod:`~lerf3d_cli.main`: ``build_parser``, ``main`` and the fuse / features / train / demo commands
- :mod:`~lerf3d_cli.demo`: ``lerf3d demo`` (generated room -> fusion -> field -> queries -> questions)
"""
