"""`?limit=&offset=` paging whose numbers stay within what the database can take."""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset paging with both numbers capped: a huge one would overflow the SQL integer (a 500)."""

    max_limit = 200
    #: Far beyond any owner's row count, and inside a 32-bit signed integer.
    max_offset = 2**31 - 1

    def get_offset(self, request: Request) -> int:
        """The requested offset, at most `max_offset`."""
        return min(super().get_offset(request), self.max_offset)
