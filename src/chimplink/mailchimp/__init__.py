"""The Marketing API client (being built; see the client issue)."""
