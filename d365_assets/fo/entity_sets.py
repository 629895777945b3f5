"""What F&O's OData service tells about entity sets: their columns (``$metadata``) and row counts."""

from __future__ import annotations

from d365_assets.schema import EntitySchema

from .errors import ApiError
from .metadata import MetadataError, parse_metadata
from .transport import FoTransport

__all__ = ["EntitySets"]


class EntitySets:
    """OData reads of one environment; the ``$metadata`` document is fetched and parsed once."""

    def __init__(self, transport: FoTransport) -> None:
        self._transport = transport
        self._schemas: dict[str, EntitySchema] | None = None

    def count_rows(self, collection: str, *, company: str | None) -> int:
        """``GET /data/<collection>/$count``, of one company's rows (``dataAreaId``) or all of them."""
        params = {"cross-company": "true"}
        if company:
            params["$filter"] = f"dataAreaId eq '{company.lower()}'"
        body = self._transport.odata_get(
            f"{collection}/$count", what="$count", accept="text/plain", params=params
        )
        try:
            return int(body.decode("utf-8-sig").strip())
        except ValueError:
            text = f"$count of {collection}: F&O answered {body[:100]!r}, not a number"
            raise ApiError(self._transport.log.redact(text), action="$count") from None

    def schema(self, collection: str) -> EntitySchema:
        """The entity set's columns; its name is matched exactly, else case-insensitively."""
        if self._schemas is None:
            document = self._transport.odata_get("$metadata", what="$metadata", accept="application/xml")
            self._schemas = parse_metadata(document)
        schemas = self._schemas
        found = schemas.get(collection) or next(
            (s for name, s in schemas.items() if name.casefold() == collection.casefold()), None
        )
        if found is None:
            raise MetadataError(
                f"entity set {collection!r} is not in F&O's $metadata; check the entity's public "
                "collection name (e.g. CustomersV3) and that the entity is public"
            )
        return found
