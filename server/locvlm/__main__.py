"""`python -m locvlm` runs the `locvlm` command line."""

from locvlm.cli import main

main()
