-- Seed data: every order the shop took, paid or not.
SELECT
    CAST(order_id AS BIGINT) AS order_id,
    customer,
    CAST(order_date AS DATE) AS order_date,
    CAST(amount AS DOUBLE) AS amount,
    status
FROM (VALUES
    (1, 'Alice', '2026-11-02', 120.50, 'paid'),
    (2, 'Bob', '2026-11-02', 75.00, 'paid'),
    (3, 'Carol', '2026-11-03', 42.25, 'refunded'),
    (4, 'Alice', '2026-11-03', 310.00, 'paid'),
    (5, 'Dan', '2026-11-04', 18.75, 'paid'),
    (6, 'Erin', '2026-11-04', 99.99, 'pending'),
    (7, 'Bob', '2026-11-05', 250.00, 'paid')
) AS src (order_id, customer, order_date, amount, status)
ORDER BY order_id
