import { z } from "zod";

export interface Item {
  sku: string;
  quantity: number;
}

export type ItemId = string;

export const parseItem = (raw: unknown): Item => {
  return z.object({ sku: z.string(), quantity: z.number() }).parse(raw) as Item;
};

export class Inventory {
  private items: Item[] = [];
  add(item: Item): void {
    this.items.push(item);
  }
}
