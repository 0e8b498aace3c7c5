"""The `multispec` command: every tool of the harness under one name (see multispec/cli.py)."""
