SELECT count(*) = 2 FROM products;
