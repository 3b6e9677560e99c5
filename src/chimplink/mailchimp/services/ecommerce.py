"""E-commerce: stores and, under a store, customers, products and orders (REFERENCE.md §10).

Upserts use PUT on the resource id (idempotent, retried); creations by POST
are not retried blindly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Generic, TypeVar

from chimplink.mailchimp._requestor import Requestor
from chimplink.mailchimp.models._base import MailchimpModel
from chimplink.mailchimp.models.ecommerce import Customer, Order, Product, Store
from chimplink.mailchimp.pagination import DEFAULT_PAGE_SIZE, paginate
from chimplink.mailchimp.services._base import Service

__all__ = ["EcommerceService", "StoreResourceService", "StoresService"]

M = TypeVar("M", bound=MailchimpModel)


class StoreResourceService(Service, Generic[M]):
    """customers / products / orders of a store: the same five calls on a different path."""

    def __init__(
        self, requestor: Requestor, *, collection: str, id_name: str, model: type[M]
    ) -> None:
        super().__init__(requestor)
        self._collection = collection
        self._many = "/ecommerce/stores/{store_id}/" + collection
        self._one = self._many + "/{" + id_name + "}"
        self._id_name = id_name
        self._parse: Callable[[Any], M] = model.model_validate

    def _path(self, store_id: str, resource_id: str) -> dict[str, str]:
        return {"store_id": store_id, self._id_name: resource_id}

    async def create(self, store_id: str, body: Mapping[str, Any]) -> M:
        data = await self._requestor.request(
            "POST", self._many, path={"store_id": store_id}, json_body=dict(body)
        )
        return self._parse(data)

    async def upsert(self, store_id: str, resource_id: str, body: Mapping[str, Any]) -> M:
        """`PUT …/{id}`: create or replace; `body["id"]` is set to `resource_id`."""
        data = await self._requestor.request(
            "PUT",
            self._one,
            path=self._path(store_id, resource_id),
            json_body={**body, "id": resource_id},
        )
        return self._parse(data)

    async def get(self, store_id: str, resource_id: str) -> M:
        data = await self._requestor.request(
            "GET", self._one, path=self._path(store_id, resource_id)
        )
        return self._parse(data)

    async def update(self, store_id: str, resource_id: str, changes: Mapping[str, Any]) -> M:
        data = await self._requestor.request(
            "PATCH", self._one, path=self._path(store_id, resource_id), json_body=dict(changes)
        )
        return self._parse(data)

    async def delete(self, store_id: str, resource_id: str) -> None:
        await self._requestor.request("DELETE", self._one, path=self._path(store_id, resource_id))

    def iterate(self, store_id: str, *, page_size: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[M]:
        return paginate(
            self._requestor,
            self._many,
            key=self._collection,
            parse=self._parse,
            path={"store_id": store_id},
            page_size=page_size,
        )


class StoresService(Service):
    customers: StoreResourceService[Customer]
    products: StoreResourceService[Product]
    orders: StoreResourceService[Order]

    def __init__(self, requestor: Requestor) -> None:
        super().__init__(requestor)
        self.customers = StoreResourceService(
            requestor, collection="customers", id_name="customer_id", model=Customer
        )
        self.products = StoreResourceService(
            requestor, collection="products", id_name="product_id", model=Product
        )
        self.orders = StoreResourceService(
            requestor, collection="orders", id_name="order_id", model=Order
        )

    async def create(
        self,
        *,
        store_id: str,
        list_id: str,
        name: str,
        currency_code: str,
        domain: str | None = None,
        is_syncing: bool | None = None,
    ) -> Store:
        """`POST /ecommerce/stores` (§10: the list_id cannot change later)."""
        body: dict[str, Any] = {
            "id": store_id,
            "list_id": list_id,
            "name": name,
            "currency_code": currency_code,
        }
        if domain is not None:
            body["domain"] = domain
        if is_syncing is not None:
            body["is_syncing"] = is_syncing
        return Store.model_validate(
            await self._requestor.request("POST", "/ecommerce/stores", json_body=body)
        )

    async def get(self, store_id: str) -> Store:
        data = await self._requestor.request(
            "GET", "/ecommerce/stores/{store_id}", path={"store_id": store_id}
        )
        return Store.model_validate(data)

    async def update(self, store_id: str, changes: Mapping[str, Any]) -> Store:
        data = await self._requestor.request(
            "PATCH",
            "/ecommerce/stores/{store_id}",
            path={"store_id": store_id},
            json_body=dict(changes),
        )
        return Store.model_validate(data)

    async def delete(self, store_id: str) -> None:
        await self._requestor.request(
            "DELETE", "/ecommerce/stores/{store_id}", path={"store_id": store_id}
        )

    def iterate(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[Store]:
        return paginate(
            self._requestor,
            "/ecommerce/stores",
            key="stores",
            parse=Store.model_validate,
            page_size=page_size,
        )


class EcommerceService(Service):
    stores: StoresService

    def __init__(self, requestor: Requestor) -> None:
        super().__init__(requestor)
        self.stores = StoresService(requestor)
