"""E-commerce: stores, customers, products + variants, orders and carts + lines,
promo rules + codes (REFERENCE.md §10)."""

from chimplink.emulator.ecommerce.routes import routes

__all__ = ["routes"]
