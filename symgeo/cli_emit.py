"""CLI subcommands (registered by symgeo.cli.build_parser)."""

from __future__ import annotations


def register(sub, add_family_arguments):
    """Add this module's subcommands to the argparse ``sub`` parsers."""
