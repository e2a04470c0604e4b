/** A catalog entry with its stock on hand. Prices are integer cents. */
export interface Product {
  sku: string;
  name: string;
  priceCents: number;
  stock: number;
}
