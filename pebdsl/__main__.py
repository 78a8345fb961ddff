"""`python -m pebdsl` runs the command line."""

from pebdsl.entry import main

if __name__ == "__main__":
    main()
