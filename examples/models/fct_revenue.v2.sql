-- Daily revenue: what finance reports, now with the average order value.
SELECT
    order_date,
    CAST(count(*) AS BIGINT) AS orders,
    sum(amount) AS revenue,
    round(avg(amount), 2) AS avg_order_value
FROM demo.main.stg_orders
GROUP BY order_date
ORDER BY order_date
