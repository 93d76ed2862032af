"""`python -m dayzero` is the `dayzero` command."""

from dayzero.cli import main

if __name__ == "__main__":  # spawned worker processes (`conformance gate --jobs`) import this module again
    main()
