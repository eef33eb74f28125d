"""Catalog service: venues, products and their rule documents, cached in-process."""

from hub.catalog.service import CatalogService, VenueKeys

__all__ = ["CatalogService", "VenueKeys"]
