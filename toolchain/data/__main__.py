import sys

from ..cli import main

raise SystemExit(main(["data", *sys.argv[1:]]))
