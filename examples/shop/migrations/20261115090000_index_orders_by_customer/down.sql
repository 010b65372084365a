DROP INDEX orders_by_customer;
