"""The Click command-line interface: thin commands over the library."""
