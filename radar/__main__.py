"""`python -m radar` is the `radar` command."""

from radar.cli import main

main()
