use std::collections::HashMap;

/// Stock per SKU.
#[derive(Debug, Default)]
pub struct Stock {
    levels: HashMap<String, i64>,
}

impl Stock {
    pub fn add(&mut self, sku: &str, n: i64) {
        *self.levels.entry(sku.to_string()).or_insert(0) += n;
    }
}

pub fn total(stock: &Stock) -> i64 {
    let mut sum = 0;
    for v in stock.levels.values() {
        sum += v;
    }
    sum
}

pub enum Unit {
    Piece,
    Box,
}
