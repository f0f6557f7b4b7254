-- Inventory schema
CREATE TABLE items (
    sku TEXT PRIMARY KEY,
    quantity INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX items_quantity ON items (quantity);

INSERT INTO items (sku, quantity) VALUES ('A-1', 10);
