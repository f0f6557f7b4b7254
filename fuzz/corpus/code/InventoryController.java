package com.example.inventory;

import java.util.List;

@RestController
public class InventoryController {
    private final ItemRepository repo;

    public InventoryController(ItemRepository repo) {
        this.repo = repo;
    }

    @GetMapping("/items")
    public List<Item> items() {
        return repo.findAll();
    }
}
