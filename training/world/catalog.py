"""The product catalogue: ~200 products in 8 categories with names, short descriptions and prices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.world.vocab import CATEGORIES

PRODUCTS_PER_CATEGORY = 25

# category -> (median unit price, adjectives, nouns, description phrases)
_CATALOG_WORDS: dict[str, tuple[float, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "electronics": (
        220.0,
        ("Wireless", "Compact", "Slim", "Portable", "Pro", "Ultra"),
        ("Headphones", "Speaker", "Tablet", "Camera", "Smartwatch", "Monitor"),
        (
            "with long battery life",
            "for work and travel",
            "with fast charging",
            "with noise cancelling",
            "in a slim aluminium body",
        ),
    ),
    "fashion": (
        45.0,
        ("Classic", "Slim", "Linen", "Wool", "Everyday", "Vintage"),
        ("Shirt", "Jacket", "Dress", "Jeans", "Sneakers", "Scarf"),
        (
            "in breathable fabric",
            "for all seasons",
            "with a relaxed fit",
            "made from organic cotton",
            "that goes with everything",
        ),
    ),
    "home": (
        70.0,
        ("Ceramic", "Oak", "Nordic", "Soft", "Cast-iron", "Modular"),
        ("Lamp", "Vase", "Pan", "Blanket", "Shelf", "Chair"),
        (
            "for a cosy living room",
            "built to last",
            "easy to clean",
            "in a minimalist design",
            "for small apartments",
        ),
    ),
    "beauty": (
        22.0,
        ("Hydrating", "Gentle", "Vitamin C", "Matte", "Organic", "Repair"),
        ("Serum", "Cream", "Shampoo", "Lipstick", "Cleanser", "Mask"),
        (
            "for sensitive skin",
            "with natural ingredients",
            "dermatologist tested",
            "fragrance free",
            "for daily use",
        ),
    ),
    "grocery": (
        7.0,
        ("Organic", "Fresh", "Whole-grain", "Roasted", "Family-size", "Fair-trade"),
        ("Coffee", "Pasta", "Olive Oil", "Granola", "Tea", "Chocolate"),
        (
            "on weekly promotion",
            "from local farms",
            "in a resealable pack",
            "with no added sugar",
            "great value pack",
        ),
    ),
    "sports": (
        55.0,
        ("Lightweight", "Trail", "Pro", "Foldable", "Grip", "Thermal"),
        ("Running Shoes", "Yoga Mat", "Dumbbells", "Backpack", "Bottle", "Tracksuit"),
        (
            "for training at home",
            "for outdoor adventures",
            "with anti-slip grip",
            "for beginners and pros",
            "quick-drying",
        ),
    ),
    "books": (
        16.0,
        ("Illustrated", "Bestselling", "Pocket", "Collector's", "Annotated", "Complete"),
        ("Novel", "Cookbook", "Travel Guide", "Biography", "Thriller", "Atlas"),
        (
            "loved by readers",
            "in paperback",
            "with colour photos",
            "a perfect gift",
            "by an award-winning author",
        ),
    ),
    "toys": (
        28.0,
        ("Wooden", "Colourful", "Interactive", "Mini", "Classic", "STEM"),
        ("Puzzle", "Building Set", "Plush Bear", "Board Game", "Race Car", "Doll House"),
        (
            "for ages 3 and up",
            "on special offer",
            "for family game night",
            "that sparks creativity",
            "made from safe materials",
        ),
    ),
}
_PRICE_SPREAD = 0.3  # lognormal sigma of unit prices within a category
# Mean extra units per order line beyond the first, by category (groceries come in multiples).
EXTRA_QUANTITY: dict[str, float] = {
    "electronics": 0.05,
    "fashion": 0.3,
    "home": 0.3,
    "beauty": 0.8,
    "grocery": 2.0,
    "sports": 0.2,
    "books": 0.3,
    "toys": 0.4,
}


@dataclass(frozen=True)
class Catalog:
    """The products table plus the arrays the transaction generator indexes into."""

    products: pd.DataFrame
    category: np.ndarray  # category index per product
    unit_price: np.ndarray
    offsets: np.ndarray  # first product index of each category (products sorted by category)


def make_catalog(rng: np.random.Generator) -> Catalog:
    """``PRODUCTS_PER_CATEGORY`` products per category with distinct names and lognormal prices."""
    rows = []
    for c, name in enumerate(CATEGORIES):
        median, adjectives, nouns, phrases = _CATALOG_WORDS[name]
        combos = rng.choice(len(adjectives) * len(nouns), size=PRODUCTS_PER_CATEGORY, replace=False)
        prices = median * np.exp(_PRICE_SPREAD * rng.standard_normal(PRODUCTS_PER_CATEGORY))
        prices = np.maximum(np.round(prices) - 0.01, 0.99)
        for combo, price in zip(combos, prices, strict=True):
            adjective, noun = adjectives[combo // len(nouns)], nouns[combo % len(nouns)]
            phrase = phrases[int(rng.integers(len(phrases)))]
            rows.append(
                (c, name, f"{adjective} {noun}", f"{adjective} {noun.lower()} {phrase}.", float(price))
            )
    category = np.array([r[0] for r in rows])
    products = pd.DataFrame(
        {
            "product_id": [f"P{i + 1:05d}" for i in range(len(rows))],
            "category": [r[1] for r in rows],
            "product_name": [r[2] for r in rows],
            "description": [r[3] for r in rows],
            "unit_price": np.array([r[4] for r in rows], dtype=np.float64),
        }
    )
    for column in ("product_id", "category", "product_name", "description"):
        products[column] = products[column].astype(pd.StringDtype("pyarrow"))
    offsets = np.searchsorted(category, np.arange(len(CATEGORIES)))
    return Catalog(
        products=products, category=category, unit_price=products["unit_price"].to_numpy(), offsets=offsets
    )
