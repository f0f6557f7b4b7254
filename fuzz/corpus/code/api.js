'use strict';
const express = require('express');

const app = express();

/**
 * Returns the health status.
 */
function health(req, res) {
  res.json({ status: 'ok' });
}

const listItems = async (req, res) => {
  res.json(await db.items());
};

class ItemStore {
  constructor() {
    this.items = new Map();
  }
}

export default function start(port) {
  app.listen(port);
}
