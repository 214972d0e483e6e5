-- Paid orders only, with normalised customer names.
SELECT order_id, lower(customer) AS customer, order_date, amount
FROM demo.main.raw_orders
WHERE status = 'paid'
ORDER BY order_id
