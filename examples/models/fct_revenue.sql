-- Daily revenue: what finance reports.
SELECT order_date, CAST(count(*) AS BIGINT) AS orders, sum(amount) AS revenue
FROM demo.main.stg_orders
GROUP BY order_date
ORDER BY order_date
