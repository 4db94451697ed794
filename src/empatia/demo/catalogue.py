"""The company's catalogue: a few thousand products in categories, with prices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# category, number of products per 1,000, median price (EUR), consumable, return rate, nouns
CATEGORIES = [
    ("coffee_tea", 60, 9.0, True, 0.01, ["coffee beans", "ground coffee", "green tea", "black tea", "espresso capsules"]),
    ("fresh_food", 110, 4.0, True, 0.005, ["apples", "tomatoes", "sourdough bread", "chicken breast", "salmon fillet", "avocados"]),
    ("dairy", 60, 2.5, True, 0.005, ["milk", "yoghurt", "butter", "cheese", "kefir"]),
    ("snacks_drinks", 80, 3.0, True, 0.005, ["dark chocolate", "crisps", "sparkling water", "orange juice", "granola"]),
    ("household", 70, 6.0, True, 0.02, ["dish soap", "laundry detergent", "paper towels", "sponges"]),
    ("baby_pet", 50, 15.0, True, 0.02, ["nappies", "baby food", "cat food", "dog food"]),
    ("beauty", 90, 14.0, False, 0.06, ["shampoo", "face cream", "lipstick", "perfume", "sunscreen"]),
    ("fashion", 160, 45.0, False, 0.22, ["jacket", "jeans", "sneakers", "dress", "sweater", "scarf"]),
    ("electronics", 90, 120.0, False, 0.09, ["headphones", "smartphone", "coffee machine", "e-reader", "smartwatch", "speaker"]),
    ("home", 100, 35.0, False, 0.07, ["lamp", "cushion", "frying pan", "bedding set", "vase"]),
    ("toys_books", 70, 18.0, False, 0.04, ["board game", "novel", "cookbook", "puzzle", "building blocks"]),
    ("sports", 50, 40.0, False, 0.08, ["yoga mat", "running shoes", "bike helmet", "dumbbells"]),
    ("music", 10, 180.0, False, 0.05, ["acoustic guitar", "guitar strings", "keyboard", "cello case", "microphone"]),
]  # fmt: skip
ADJECTIVES = [
    "Classic",
    "Premium",
    "Eco",
    "Everyday",
    "Deluxe",
    "Nordic",
    "Urban",
    "Organic",
    "Pro",
    "Mini",
]


@dataclass
class Catalogue:
    product_id: list[str]
    name: list[str]
    category: list[str]
    cat_index: np.ndarray
    price: np.ndarray
    consumable: np.ndarray
    return_rate: np.ndarray
    cat_start: np.ndarray  # first product index of each category
    cat_size: np.ndarray

    @property
    def n(self) -> int:
        return len(self.product_id)


def make_catalogue(rng: np.random.Generator, size: int = 3000) -> Catalogue:
    """Products ordered by category; within a category, lower index = more popular."""
    per = np.array([c[1] for c in CATEGORIES], dtype=float)
    sizes = np.maximum(4, np.round(per / per.sum() * size)).astype(int)
    pid: list[str]
    name: list[str]
    cat: list[str]
    ci: list[int]
    price: list[float]
    cons: list[bool]
    ret: list[float]
    pid, name, cat, ci, price, cons, ret = [], [], [], [], [], [], []
    for k, (c, _, med, consumable, rr, nouns) in enumerate(CATEGORIES):
        p = np.round(rng.lognormal(np.log(med), 0.5, sizes[k]), 2) + 0.0
        for j in range(sizes[k]):
            pid.append(f"SKU-{len(pid) + 10001}")
            name.append(f"{ADJECTIVES[(j * 7 + k) % len(ADJECTIVES)]} {nouns[j % len(nouns)]}")
            cat.append(c)
            ci.append(k)
            price.append(max(0.49, float(p[j])))
            cons.append(consumable)
            ret.append(rr)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return Catalogue(pid, name, cat, np.array(ci), np.array(price), np.array(cons),
                     np.array(ret), starts, sizes)  # fmt: skip
