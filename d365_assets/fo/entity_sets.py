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
        """``GET /data/<collection>/$count``, of one company's rows (``dataAreaId``) or all of them.

        Always ``cross-company=true``: without it F&O counts only the default company of the app's
        user. F&O knows an entity set only by its exact public collection name (case-sensitive); when
        it answers 404, the name is looked up in ``$metadata`` regardless of case and asked once more.
        """
        try:
            return self._count(collection, company=company)
        except ApiError as exc:
            if exc.status_code != 404:
                raise
            exact = self._exact_name(collection)
            if exact is None or exact == collection:
                raise ApiError(
                    self._transport.log.redact(
                        f"$count of {collection}: F&O knows no entity set of that name (HTTP 404); the "
                        "public collection name is case-sensitive: check the entity's name in the catalog "
                        "(e.g. CustomersV3) and that the entity is public in F&O"
                    ),
                    status_code=404,
                    action="$count",
                ) from None
        return self._count(exact, company=company)

    def _count(self, collection: str, *, company: str | None) -> int:
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

    def _exact_name(self, collection: str) -> str | None:
        """The entity set's name as ``$metadata`` spells it (matched regardless of case), or None."""
        try:
            names = self._all_schemas()
        except (ApiError, MetadataError):
            return None
        return (
            collection
            if collection in names
            else next((name for name in names if name.casefold() == collection.casefold()), None)
        )

    def _all_schemas(self) -> dict[str, EntitySchema]:
        if self._schemas is None:
            document = self._transport.odata_get("$metadata", what="$metadata", accept="application/xml")
            self._schemas = parse_metadata(document)
        return self._schemas

    def schema(self, collection: str) -> EntitySchema:
        """The entity set's columns; its name is matched exactly, else case-insensitively."""
        schemas = self._all_schemas()
        found = schemas.get(collection) or next(
            (s for name, s in schemas.items() if name.casefold() == collection.casefold()), None
        )
        if found is None:
            raise MetadataError(
                f"entity set {collection!r} is not in F&O's $metadata; check the entity's public "
                "collection name (e.g. CustomersV3) and that the entity is public"
            )
        return found
