"""URL table of the e-commerce resources (paths relative to /3.0)."""

from chimplink.emulator.ecommerce import customers, products, promos, stores
from chimplink.emulator.ecommerce.orders import cart_handlers, list_account_orders, order_handlers
from chimplink.emulator.routing import Route

_STORE = "/ecommerce/stores/{store_id}"
_CUSTOMER = f"{_STORE}/customers/{{customer_id}}"
_PRODUCT = f"{_STORE}/products/{{product_id}}"
_VARIANT = f"{_PRODUCT}/variants/{{variant_id}}"
_ORDER = f"{_STORE}/orders/{{order_id}}"
_CART = f"{_STORE}/carts/{{cart_id}}"
_RULE = f"{_STORE}/promo-rules/{{promo_rule_id}}"
_CODE = f"{_RULE}/promo-codes/{{promo_code_id}}"

routes = [
    Route("GET", "/ecommerce/orders", list_account_orders),
    Route("GET", "/ecommerce/stores", stores.list_stores),
    Route("POST", "/ecommerce/stores", stores.create_store),
    Route("GET", _STORE, stores.get_store),
    Route("PATCH", _STORE, stores.update_store),
    Route("DELETE", _STORE, stores.delete_store),
    Route("GET", f"{_STORE}/customers", customers.list_customers),
    Route("POST", f"{_STORE}/customers", customers.add_customer),
    Route("GET", _CUSTOMER, customers.get_customer),
    Route("PUT", _CUSTOMER, customers.put_customer),
    Route("PATCH", _CUSTOMER, customers.patch_customer),
    Route("DELETE", _CUSTOMER, customers.delete_customer),
    Route("GET", f"{_STORE}/products", products.list_products),
    Route("POST", f"{_STORE}/products", products.add_product),
    Route("GET", _PRODUCT, products.get_product),
    Route("PUT", _PRODUCT, products.put_product),
    Route("PATCH", _PRODUCT, products.patch_product),
    Route("DELETE", _PRODUCT, products.delete_product),
    Route("GET", f"{_PRODUCT}/variants", products.list_variants),
    Route("POST", f"{_PRODUCT}/variants", products.add_variant),
    Route("GET", _VARIANT, products.get_variant),
    Route("PUT", _VARIANT, products.put_variant),
    Route("PATCH", _VARIANT, products.patch_variant),
    Route("DELETE", _VARIANT, products.delete_variant),
    Route("GET", f"{_STORE}/orders", order_handlers["list"]),
    Route("POST", f"{_STORE}/orders", order_handlers["add"]),
    Route("GET", _ORDER, order_handlers["get"]),
    Route("PUT", _ORDER, order_handlers["put"]),
    Route("PATCH", _ORDER, order_handlers["patch"]),
    Route("DELETE", _ORDER, order_handlers["delete"]),
    Route("GET", f"{_ORDER}/lines", order_handlers["list_lines"]),
    Route("POST", f"{_ORDER}/lines", order_handlers["add_line"]),
    Route("GET", f"{_ORDER}/lines/{{line_id}}", order_handlers["get_line"]),
    Route("PATCH", f"{_ORDER}/lines/{{line_id}}", order_handlers["patch_line"]),
    Route("DELETE", f"{_ORDER}/lines/{{line_id}}", order_handlers["delete_line"]),
    # Carts have no PUT in the spec (3.0.85).
    Route("GET", f"{_STORE}/carts", cart_handlers["list"]),
    Route("POST", f"{_STORE}/carts", cart_handlers["add"]),
    Route("GET", _CART, cart_handlers["get"]),
    Route("PATCH", _CART, cart_handlers["patch"]),
    Route("DELETE", _CART, cart_handlers["delete"]),
    Route("GET", f"{_CART}/lines", cart_handlers["list_lines"]),
    Route("POST", f"{_CART}/lines", cart_handlers["add_line"]),
    Route("GET", f"{_CART}/lines/{{line_id}}", cart_handlers["get_line"]),
    Route("PATCH", f"{_CART}/lines/{{line_id}}", cart_handlers["patch_line"]),
    Route("DELETE", f"{_CART}/lines/{{line_id}}", cart_handlers["delete_line"]),
    Route("GET", f"{_STORE}/promo-rules", promos.list_rules),
    Route("POST", f"{_STORE}/promo-rules", promos.add_rule),
    Route("GET", _RULE, promos.get_rule),
    Route("PATCH", _RULE, promos.patch_rule),
    Route("DELETE", _RULE, promos.delete_rule),
    Route("GET", f"{_RULE}/promo-codes", promos.list_codes),
    Route("POST", f"{_RULE}/promo-codes", promos.add_code),
    Route("GET", _CODE, promos.get_code),
    Route("PATCH", _CODE, promos.patch_code),
    Route("DELETE", _CODE, promos.delete_code),
]
