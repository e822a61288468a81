"""Orders: OrderRequest intake, Amazon-like outcomes, and the documents that follow."""
