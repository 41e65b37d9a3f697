"""`python -m snoopwatch` runs the command-line interface."""

from snoopwatch.cli import main

if __name__ == "__main__":
    main()
