"""Pages of every list in the management API."""

from typing import Any

from rest_framework.pagination import LimitOffsetPagination


class ManagementPagination(LimitOffsetPagination):
    """``?limit=&offset=``: 50 rows by default, at most 500 a page. A larger ``limit`` is
    clamped (the ``next`` link carries the limit used), so no request reads a whole table."""

    default_limit = 50
    max_limit = 500

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["description"] = (
                    f"Rows per page ({self.default_limit} by default, at most {self.max_limit})."
                )
                parameter["schema"] = {
                    **parameter["schema"],
                    "minimum": 1,
                    "maximum": self.max_limit,
                }
        return parameters
