"""What every layer may use, importing nothing else of zentrale.

The error root, the clock, YAML with line marks, secrets read from files.
"""
