"""The `chimplink` command line."""
