"""The fixed vocabulary of deal and store categories (an unknown category is an input error)."""

from __future__ import annotations

from typing import Literal, get_args

Category = Literal[
    "bakery",
    "books",
    "cafe",
    "electronics",
    "fashion",
    "groceries",
    "health_beauty",
    "home_garden",
    "leisure",
    "restaurant",
    "services",
    "sports",
    "toys",
    "other",
]
CATEGORIES: tuple[str, ...] = get_args(Category)
