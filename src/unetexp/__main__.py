"""`python -m unetexp`: the same app as the `unetexp` console script."""

from unetexp.cli import main

main()
