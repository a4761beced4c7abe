"""Catalog routes: public browsing, and product administration (admins)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from chalice.app import Response

from ..platform import http
from ..platform.routing import Access, Routes, body, query

if TYPE_CHECKING:
    from .admin import ProductAdminService
    from .models import ListedProduct
    from .service import CatalogService

routes = Routes(__name__)
if TYPE_CHECKING:
    from . import schemas
else:
    schemas = routes.schemas  # imported when a request (or /openapi.json) first needs it


def catalog() -> CatalogService:
    from ..container import services

    return services().catalog


def product_admin() -> ProductAdminService:
    from ..container import services

    return services().product_admin


def product_list(products: list[ListedProduct]) -> dict[str, Any]:
    """The ProductList body built straight from the rows. The catalog is the hot read: this builds no pydantic
    model (nor imports pydantic on a cold start). schemas.ProductList stays the body's definition and the
    document's source; tests/unit/test_lean_cold_path.py proves both give identical bytes."""
    return {
        "products": [
            {
                "id": p.id,
                "name": p.name,
                "description": p.description,
                "category": p.category,
                "points_price": p.points_price,
                "usd_price": p.usd_price,
                "sku": p.sku,
                "rating": p.rating,
                "image_url": p.image_url,
            }
            for p in products
        ]
    }


@routes.get(
    "/prod/products",
    responses={200: "ProductList"},
    links={
        200: {
            "AddToCart": {
                "operationId": "post_prod_cart_item",
                "requestBody": {"id": "$response.body#/products/0/id", "quantity": 1},
            },
            "Reserve": {
                "operationId": "post_prod_reservations",
                "requestBody": {"item_id": "$response.body#/products/1/id", "quantity": 1},
            },
            "GetProduct": {
                "operationId": "get_prod_products_item_id",
                "parameters": {"item_id": "$response.body#/products/2/id"},
            },
        }
    },
)
def list_products() -> Response:
    """All active rewards, sorted by name."""
    return http.json_response(product_list(catalog().products()))


@routes.get("/prod/products/categories", responses={200: "CategoryList"})
def product_categories() -> Response:
    """Category names, sorted."""
    return http.json_response(schemas.CategoryList(categories=catalog().categories()))


@routes.get("/prod/category", responses={200: "CategoryList"})
def categories_alias() -> Response:
    """Category names, sorted (the frontend's older path)."""
    return http.json_response(schemas.CategoryList(categories=catalog().categories()))


@routes.get("/prod/products/{item_id}", responses={200: "ProductEnvelope", 404: None})
def get_product(item_id: str) -> Response:
    """One reward; unknown or malformed ids are 404."""
    product = catalog().product(http.parse_uuid(item_id, "product"))
    return http.json_response(schemas.ProductEnvelope.model_validate({"product": product}))


@routes.get("/category/{category}", responses={200: "ProductList"})
def products_in_category(category: str) -> Response:
    """Active rewards of one category."""
    return http.json_response(product_list(catalog().products(unquote(category))))


@routes.get("/admin/products", access=Access.ADMIN, responses={200: "AdminProductList"}, query=("limit", "cursor"))
def admin_products() -> Response:
    """Every product with stock and active flag (inactive ones too), newest first."""
    found, next_cursor = product_admin().list(http.parse_limit(query()), query().get("cursor"))
    return http.json_response(schemas.AdminProductList.model_validate({"products": found, "next_cursor": next_cursor}))


@routes.post(
    "/admin/products",
    access=Access.ADMIN,
    request="ProductCreate",
    responses={201: "AdminProductEnvelope", 400: None, 409: None},
    links={
        201: {
            name: {"operationId": op, "parameters": {"item_id": "$response.body#/product/id"}}
            for name, op in (
                ("GetProduct", "get_prod_products_item_id"),
                ("UpdateProduct", "put_admin_products_item_id"),
                ("SetStock", "put_admin_products_item_id_stock"),
                ("DeactivateProduct", "delete_admin_products_item_id"),
            )
        }
    },
)
def admin_create_product() -> Response:
    """Add a reward to the catalog (409 SKU_EXISTS)."""
    from .models import NewProduct

    product = product_admin().create(NewProduct(**body(schemas.ProductCreate).model_dump()))
    return http.json_response(schemas.AdminProductEnvelope.model_validate({"product": product}), 201)


@routes.put(
    "/admin/products/{item_id}",
    access=Access.ADMIN,
    request="ProductUpdate",
    responses={200: "AdminProductEnvelope", 400: None, 404: None, 409: None},
)
def admin_update_product(item_id: str) -> Response:
    """Change some of a product's fields (stock has its own route)."""
    changes = body(schemas.ProductUpdate).changes()
    product = product_admin().update(http.parse_uuid(item_id, "product"), changes)
    return http.json_response(schemas.AdminProductEnvelope.model_validate({"product": product}))


@routes.delete("/admin/products/{item_id}", access=Access.ADMIN, responses={200: "AdminProductEnvelope", 404: None})
def admin_deactivate_product(item_id: str) -> Response:
    """Deactivate a product: gone from the catalog and checkout, kept in orders and history."""
    product = product_admin().deactivate(http.parse_uuid(item_id, "product"))
    return http.json_response(schemas.AdminProductEnvelope.model_validate({"product": product}))


@routes.put(
    "/admin/products/{item_id}/stock",
    access=Access.ADMIN,
    request="StockUpdate",
    responses={200: "AdminProductEnvelope", 400: None, 404: None, 409: None},
)
def admin_product_stock(item_id: str) -> Response:
    """Set the stock level ({"stock": n}) or change it ({"delta": n}, 409 STOCK_BELOW_ZERO)."""
    wanted = body(schemas.StockUpdate)
    product_id = http.parse_uuid(item_id, "product")
    if wanted.stock is not None:
        product = product_admin().set_stock(product_id, wanted.stock)
    else:
        assert wanted.delta is not None
        product = product_admin().change_stock(product_id, wanted.delta)
    return http.json_response(schemas.AdminProductEnvelope.model_validate({"product": product}))
