"""Inventory helpers."""
import os
from dataclasses import dataclass

DEFAULT_WAREHOUSE = os.environ.get("WAREHOUSE", "main")


@dataclass
class Item:
    sku: str
    quantity: int = 0

    def restock(self, amount):
        self.quantity += amount


# Loads items from a CSV export.
def load_items(path):
    with open(path) as f:
        return [Item(*line.split(",")) for line in f]


async def sync(client):
    if client is None:
        return None
    elif client.closed:
        raise RuntimeError("closed")
    return await client.fetch()
