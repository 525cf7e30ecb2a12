"""Test helpers shipped beside the SDK: small bundles of known behaviour, written to a folder, and synthetic series."""

from .bundles import BUNDLES, CLASSICAL_TEMPLATE, write_bundle
from .volumes import synthetic_ct

__all__ = ["BUNDLES", "CLASSICAL_TEMPLATE", "synthetic_ct", "write_bundle"]
