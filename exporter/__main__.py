"""`python -m exporter` runs the tf2java command line."""

from exporter.cli import main

if __name__ == "__main__":
    main()
