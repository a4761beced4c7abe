-- Prototype (benchmark database only): the money operations as server-side functions, so that each
-- one is a single statement the app sends in one network flight. Design and review: docs/performance.md.
--
-- Rules every function keeps (the same as chalicelib's repositories and services):
--   * lock order: product rows in id order, then the member row, then that member's lots;
--   * every check that can fail is made before the first write it would have to undo, so a business
--     failure returns an outcome with nothing written (checkout: except the claimed cart, which the
--     contract says a failed checkout empties), or raises, which rolls the statement back;
--   * lapsed lots are expired (EXPIRE rows, allocations, PointsExpired event) before a spend, as of
--     the transaction's start, exactly as ledger.expire_lapsed does;
--   * spends consume lots soonest-expiring first and record lot_allocations;
--   * nothing session-level: no SET (the function-level SET below is restored on return and never
--     seen by RDS Proxy), no prepared statements, no temp tables, no advisory locks.
-- Installed by bench/prototypes/patch.py:install_sql as the database owner; SECURITY INVOKER, so the
-- application role's own table privileges apply (ledger_entries stays INSERT-only for it).

-- Idempotency-Key claim, in the caller's transaction: the row is inserted by the transaction that does
-- the work, so a concurrent duplicate waits on the insert (bounded by lock_timeout) and then replays.
CREATE OR REPLACE FUNCTION proto_idem_claim(p_scope text, p_key text, p_hash text, p_retention interval,
                                            OUT outcome text, OUT status_code integer, OUT response_body text)
LANGUAGE plpgsql
SET lock_timeout = '10s'  -- the wait budget for a duplicate in flight (IdempotencyService waits 10 s)
AS $$
DECLARE
    k record;
BEGIN
    INSERT INTO idempotency_keys (scope, idem_key, request_hash) VALUES (p_scope, p_key, p_hash)
    ON CONFLICT DO NOTHING;
    SELECT i.request_hash, i.status_code, i.response_body, i.created_at, i.completed_at INTO k
    FROM idempotency_keys i WHERE i.scope = p_scope AND i.idem_key = p_key FOR UPDATE;
    IF k.created_at < now() - p_retention THEN
        UPDATE idempotency_keys SET request_hash = p_hash, status_code = NULL, response_body = NULL,
               created_at = now(), completed_at = NULL
        WHERE scope = p_scope AND idem_key = p_key;
        outcome := 'PROCEED';
    ELSIF k.request_hash <> p_hash THEN
        outcome := 'KEY_REUSED';
    ELSIF k.completed_at IS NOT NULL THEN
        outcome := 'REPLAY';
        status_code := k.status_code;
        response_body := k.response_body;
    ELSE
        outcome := 'PROCEED';
    END IF;
END
$$;

-- Expire what is left in a member's lapsed lots (expires_at <= p_now); the caller holds the member row.
-- The statement of ledger._EXPIRE_SQL for one member, unchanged.
CREATE OR REPLACE FUNCTION proto_expire_lapsed(p_member uuid, p_now timestamptz, p_by text, p_request_id text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_points bigint;
BEGIN
    WITH lapsed AS MATERIALIZED (
        SELECT l.id, l.ctid AS tid, l.member_id, l.points_remaining AS points, l.expiry_count + 1 AS seq,
               l.earned_at, gen_random_uuid() AS entry_id
        FROM point_lots l
        WHERE l.member_id = p_member AND l.points_remaining > 0 AND l.expires_at <= p_now
    ), entries AS (
        INSERT INTO ledger_entries (id, member_id, entry_type, points, description, external_ref, created_by)
        SELECT entry_id, member_id, 'EXPIRE', -points,
               'Points expired (earned ' || to_char(earned_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ')',
               'expire:' || id || ':' || seq, p_by
        FROM lapsed
    ), lots AS (
        UPDATE point_lots l SET points_remaining = 0, expiry_count = lapsed.seq
        FROM lapsed WHERE l.ctid = lapsed.tid
    ), allocations AS (
        INSERT INTO lot_allocations (ledger_entry_id, lot_id, points)
        SELECT entry_id, id, points FROM lapsed
    ), per_member AS (
        SELECT member_id, SUM(points)::bigint AS points, count(*)::int AS lots FROM lapsed GROUP BY member_id
    ), balances AS (
        UPDATE members m SET balance = m.balance - p.points, updated_at = now()
        FROM per_member p WHERE m.id = p.member_id
        RETURNING m.id, m.balance
    ), events AS (
        INSERT INTO outbox_events (event_type, aggregate_id, payload, request_id)
        SELECT 'PointsExpired', p.member_id,
               jsonb_build_object('member_id', p.member_id, 'points', p.points, 'lots', p.lots,
                                  'balance', b.balance, 'as_of', p_now),
               p_request_id
        FROM per_member p JOIN balances b ON b.id = p.member_id
    )
    SELECT COALESCE(SUM(points), 0)::bigint INTO v_points FROM per_member;
    RETURN v_points;
END
$$;

-- place_order (chalicelib/services/ordering.py): stock taken, order PENDING with lines and history,
-- points spent FIFO (lapsed lots expired first), payment attached, OrderCreated in the outbox.
-- Lines arrive sorted by product id. Outcomes: OK, OUT_OF_STOCK (detail: the product's name),
-- INSUFFICIENT_POINTS (detail: the points required); only OK writes anything.
CREATE OR REPLACE FUNCTION proto_place_order(
    p_member uuid, p_pid uuid[], p_qty integer[], p_name text[], p_descr text[], p_img text[], p_price integer[],
    p_source text, p_request_id text,
    OUT outcome text, OUT detail text, OUT order_id uuid, OUT entry_id uuid, OUT total_points bigint,
    OUT previous_balance bigint, OUT balance bigint, OUT created_at timestamptz, OUT updated_at timestamptz,
    OUT history_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := now();  -- the transaction's start, as ledger.debit's default
    v_balance bigint;
    v_lapsed bigint;
    v_expired bigint;
    v_taken bigint;
    v_rows integer;
BEGIN
    total_points := (SELECT SUM(q::bigint * p) FROM unnest(p_qty, p_price) AS l(q, p));
    -- 1. Product rows, locked in id order (the global lock order starts here), then checked.
    PERFORM 1 FROM products p WHERE p.id = ANY(p_pid) ORDER BY p.id FOR UPDATE OF p;
    SELECT l.name INTO detail
    FROM unnest(p_pid, p_qty, p_name) AS l(id, q, name)
    LEFT JOIN products p ON p.id = l.id AND p.active AND p.stock >= l.q
    WHERE p.id IS NULL ORDER BY l.id LIMIT 1;
    IF FOUND THEN
        outcome := 'OUT_OF_STOCK';
        RETURN;
    END IF;
    -- 2. The member row, then whether the points are there once lapsed lots are gone.
    SELECT m.balance INTO v_balance FROM members m WHERE m.id = p_member FOR UPDATE OF m;
    IF NOT FOUND THEN
        outcome := 'INSUFFICIENT_POINTS';
        detail := total_points::text;
        RETURN;
    END IF;
    SELECT COALESCE(SUM(l.points_remaining), 0) INTO v_lapsed
    FROM point_lots l WHERE l.member_id = p_member AND l.points_remaining > 0 AND l.expires_at <= v_now;
    IF v_balance - v_lapsed < total_points THEN
        outcome := 'INSUFFICIENT_POINTS';
        detail := total_points::text;
        RETURN;
    END IF;
    -- 3. Writes. Stock: the same conditional decrement as products.take_stock, all lines at once.
    UPDATE products p SET stock = p.stock - l.q, updated_at = now()
    FROM unnest(p_pid, p_qty) AS l(id, q)
    WHERE p.id = l.id AND p.active AND p.stock >= l.q;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows <> cardinality(p_pid) THEN
        RAISE EXCEPTION 'stock changed under a row lock (% of % lines)', v_rows, cardinality(p_pid);
    END IF;
    IF v_lapsed > 0 THEN
        v_expired := proto_expire_lapsed(p_member, v_now, 'expiry-on-spend', p_request_id);
    END IF;
    UPDATE members m SET balance = m.balance - total_points, updated_at = now()
    WHERE m.id = p_member AND m.balance >= total_points
    RETURNING m.balance INTO balance;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'member % cannot pay % points after expiry', p_member, total_points;
    END IF;
    previous_balance := balance + total_points;
    INSERT INTO orders AS o (member_id, status, source, total_points)
    VALUES (p_member, 'PENDING', p_source, total_points)
    RETURNING o.id, o.created_at, o.updated_at INTO order_id, created_at, updated_at;
    INSERT INTO order_lines (order_id, product_id, product_name, description, image_url, quantity, unit_points_price)
    SELECT order_id, * FROM unnest(p_pid, p_name, p_descr, p_img, p_qty, p_price);
    INSERT INTO order_status_history AS h (order_id, status) VALUES (order_id, 'PENDING') RETURNING h.at INTO history_at;
    INSERT INTO ledger_entries AS e (member_id, entry_type, points, description, order_id)
    VALUES (p_member, 'SPEND', -total_points, 'Order ' || order_id, order_id)
    RETURNING e.id INTO entry_id;
    -- FIFO by expiry: ledger.consume_lots, unchanged.
    WITH open_lots AS (
        SELECT id, points_remaining,
               SUM(points_remaining) OVER (ORDER BY expires_at, id) - points_remaining AS before
        FROM point_lots
        WHERE member_id = p_member AND points_remaining > 0
    ), take AS (
        SELECT id, LEAST(points_remaining, total_points - before) AS points
        FROM open_lots WHERE before < total_points
    ), updated AS (
        UPDATE point_lots l SET points_remaining = l.points_remaining - take.points
        FROM take WHERE l.id = take.id
        RETURNING l.id, take.points
    ), allocated AS (
        INSERT INTO lot_allocations (ledger_entry_id, lot_id, points)
        SELECT entry_id, id, points FROM updated
        RETURNING points
    )
    SELECT COALESCE(SUM(points), 0)::bigint INTO v_taken FROM allocated;
    IF v_taken <> total_points THEN
        RAISE EXCEPTION 'lots of member % cover % of % points', p_member, v_taken, total_points;
    END IF;
    UPDATE orders SET payment_entry_id = entry_id WHERE id = order_id;
    INSERT INTO outbox_events (event_type, aggregate_id, payload, request_id)
    VALUES ('OrderCreated', order_id,
            jsonb_build_object('order_id', order_id, 'member_id', p_member, 'total_points', total_points,
                               'items', (SELECT jsonb_agg(jsonb_build_object('item_id', l.id, 'quantity', l.q) ORDER BY l.id)
                                         FROM unnest(p_pid, p_qty) AS l(id, q))),
            p_request_id);
    outcome := 'OK';
END
$$;

-- POST /prod/cart/checkout: claim the cart (DELETE ... RETURNING: a concurrent checkout of the same
-- cart waits on the row locks, then claims nothing), price it from the catalog, place the order.
-- Always committed: on OUT_OF_STOCK / INSUFFICIENT_POINTS / CART_EMPTY only the cart is gone.
CREATE OR REPLACE FUNCTION proto_checkout(p_member uuid, p_request_id text)
RETURNS TABLE (outcome text, detail text, order_id uuid, entry_id uuid, total_points bigint,
               previous_balance bigint, balance bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_pid uuid[]; v_qty integer[]; v_name text[]; v_descr text[]; v_img text[]; v_price integer[];
    r record;
BEGIN
    WITH claimed AS (
        DELETE FROM cart_items c WHERE c.member_id = p_member RETURNING c.product_id, c.quantity
    )
    SELECT array_agg(c.product_id ORDER BY c.product_id), array_agg(c.quantity ORDER BY c.product_id),
           array_agg(p.name ORDER BY c.product_id), array_agg(p.description ORDER BY c.product_id),
           array_agg(p.image_url ORDER BY c.product_id), array_agg(p.points_price ORDER BY c.product_id)
    INTO v_pid, v_qty, v_name, v_descr, v_img, v_price
    FROM claimed c JOIN products p ON p.id = c.product_id;
    IF v_pid IS NULL THEN
        RETURN QUERY SELECT 'CART_EMPTY'::text, NULL::text, NULL::uuid, NULL::uuid, NULL::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    SELECT * INTO r FROM proto_place_order(p_member, v_pid, v_qty, v_name, v_descr, v_img, v_price, 'CHECKOUT', p_request_id);
    RETURN QUERY SELECT r.outcome, r.detail, r.order_id, r.entry_id, r.total_points, r.previous_balance, r.balance;
END
$$;

-- POST /prod/orders: Idempotency-Key claim, pricing, place_order, and the order as GET would read it.
-- Outcomes: REPLAY (status, body), KEY_REUSED, ITEM_NOT_FOUND (detail: index), OUT_OF_STOCK,
-- INSUFFICIENT_POINTS, OK. Anything but OK is rolled back by the caller; OK is completed (the stored
-- response) and committed in the caller's second flight.
CREATE OR REPLACE FUNCTION proto_create_order(
    p_member uuid, p_items uuid[], p_qty integer[], p_scope text, p_key text, p_hash text,
    p_retention interval, p_request_id text)
RETURNS TABLE (outcome text, detail text, replay_status integer, replay_body text, order_id uuid,
               total_points bigint, created_at timestamptz, updated_at timestamptz, history_at timestamptz,
               items jsonb)
LANGUAGE plpgsql
SET lock_timeout = '10s'  -- the wait budget for a duplicate in flight (IdempotencyService waits 10 s)
AS $$
DECLARE
    claim record;
    v_missing bigint;
    v_pid uuid[]; v_qty integer[]; v_name text[]; v_descr text[]; v_img text[]; v_price integer[];
    r record;
BEGIN
    SELECT * INTO claim FROM proto_idem_claim(p_scope, p_key, p_hash, p_retention);
    IF claim.outcome <> 'PROCEED' THEN
        RETURN QUERY SELECT claim.outcome, NULL::text, claim.status_code, claim.response_body, NULL::uuid,
                            NULL::bigint, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::jsonb;
        RETURN;
    END IF;
    SELECT i.n INTO v_missing
    FROM unnest(p_items) WITH ORDINALITY AS i(id, n) LEFT JOIN products p ON p.id = i.id AND p.active
    WHERE p.id IS NULL ORDER BY i.n LIMIT 1;
    IF FOUND THEN
        RETURN QUERY SELECT 'ITEM_NOT_FOUND'::text, (v_missing - 1)::text, NULL::integer, NULL::text, NULL::uuid,
                            NULL::bigint, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::jsonb;
        RETURN;
    END IF;
    SELECT array_agg(p.id ORDER BY p.id), array_agg(i.q ORDER BY p.id), array_agg(p.name ORDER BY p.id),
           array_agg(p.description ORDER BY p.id), array_agg(p.image_url ORDER BY p.id),
           array_agg(p.points_price ORDER BY p.id)
    INTO v_pid, v_qty, v_name, v_descr, v_img, v_price
    FROM unnest(p_items, p_qty) AS i(id, q) JOIN products p ON p.id = i.id;
    SELECT * INTO r FROM proto_place_order(p_member, v_pid, v_qty, v_name, v_descr, v_img, v_price, 'ORDER', p_request_id);
    IF r.outcome <> 'OK' THEN
        RETURN QUERY SELECT r.outcome, r.detail, NULL::integer, NULL::text, NULL::uuid,
                            NULL::bigint, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::jsonb;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'OK'::text, NULL::text, NULL::integer, NULL::text, r.order_id, r.total_points,
                        r.created_at, r.updated_at, r.history_at,
                        (SELECT jsonb_agg(jsonb_build_object('item_id', ol.product_id, 'name', ol.product_name,
                                                             'quantity', ol.quantity,
                                                             'unit_points_price', ol.unit_points_price)
                                          ORDER BY ol.product_name, ol.product_id)
                         FROM order_lines ol WHERE ol.order_id = r.order_id);
END
$$;

-- POST /partner/purchases (chalicelib/services/earning.py): member, member lock, replay by natural
-- key, tier from qualifying points, floor(amount x points_per_usd x multiplier), EARN credit with its
-- lot, tier update, the purchase row, PointsEarned. Returns the purchase row and its ledger entry (no
-- row: MEMBER_NOT_FOUND). A conflicting repeat raises with hint PURCHASE_CONFLICT, which rolls the
-- statement back, as the service's Conflict rolls its transaction back.
CREATE OR REPLACE FUNCTION proto_record_purchase(
    p_partner uuid, p_member uuid, p_email text, p_external_id text, p_amount numeric, p_amount_text text,
    p_store text, p_occurred timestamptz, p_now timestamptz, p_description text,
    p_points_per_usd integer, p_silver integer, p_gold integer, p_window_days integer,
    p_bronze numeric, p_silver_mult numeric, p_gold_mult numeric, p_lot_days integer, p_request_id text)
RETURNS TABLE (outcome text, created boolean,
               id uuid, partner_id uuid, external_id text, member_id uuid, amount_usd numeric, tier text,
               multiplier numeric, points bigint, ledger_entry_id uuid, balance_after bigint, tier_after text,
               store_id text, occurred_at timestamptz, created_at timestamptz,
               entry_id uuid, entry_type text, entry_points bigint, entry_description text, entry_order_id uuid,
               entry_created_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_member uuid := p_member;
    m record;
    pp record;
    v_outcome text := 'CREATED';
    v_qualifying bigint;
    v_tier text;
    v_mult numeric;
    v_points bigint;
    v_balance bigint;
    v_tier_after text;
    v_entry uuid;
    v_entry_at timestamptz;
BEGIN
    IF v_member IS NULL THEN
        SELECT m0.id INTO v_member FROM members m0 WHERE m0.email = p_email;
        IF NOT FOUND THEN
            RETURN;
        END IF;
    END IF;
    SELECT m1.id, m1.balance, m1.tier INTO m FROM members m1 WHERE m1.id = v_member FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT x.member_id, x.amount_usd INTO pp FROM partner_purchases x
    WHERE x.partner_id = p_partner AND x.external_id = p_external_id;
    IF FOUND THEN
        IF pp.member_id <> v_member OR pp.amount_usd <> p_amount THEN
            RAISE EXCEPTION 'This external_id was already reported for a different purchase (another member or amount).'
                USING HINT = 'PURCHASE_CONFLICT';
        END IF;
        v_outcome := 'REPLAY';
    ELSE
        SELECT COALESCE(SUM(l.points), 0)::bigint INTO v_qualifying FROM ledger_entries l
        WHERE l.member_id = v_member AND l.entry_type = 'EARN'
          AND l.created_at > COALESCE(p_now, now()) - make_interval(days => p_window_days)
          AND l.created_at <= COALESCE(p_now, now());
        v_tier := CASE WHEN v_qualifying >= p_gold THEN 'GOLD' WHEN v_qualifying >= p_silver THEN 'SILVER' ELSE 'BRONZE' END;
        v_mult := CASE v_tier WHEN 'GOLD' THEN p_gold_mult WHEN 'SILVER' THEN p_silver_mult ELSE p_bronze END;
        v_points := floor(p_amount * p_points_per_usd * v_mult)::bigint;
        v_balance := m.balance;
        IF v_points > 0 THEN
            UPDATE members m2 SET balance = m2.balance + v_points, lifetime_earned = m2.lifetime_earned + v_points,
                   updated_at = now()
            WHERE m2.id = v_member RETURNING m2.balance INTO v_balance;
            INSERT INTO ledger_entries AS le (member_id, entry_type, points, description, order_id, external_ref,
                                              created_by, created_at)
            VALUES (v_member, 'EARN', v_points, p_description, NULL, 'purchase:' || p_partner || ':' || p_external_id,
                    'partner:' || p_partner, COALESCE(p_now, clock_timestamp()))
            RETURNING le.id, le.created_at INTO v_entry, v_entry_at;
            INSERT INTO point_lots (member_id, ledger_entry_id, points_earned, points_remaining, earned_at, expires_at)
            VALUES (v_member, v_entry, v_points, v_points, COALESCE(p_now, v_entry_at),
                    COALESCE(p_now, v_entry_at) + make_interval(secs => p_lot_days * 86400.0));
        END IF;
        v_tier_after := CASE WHEN v_qualifying + v_points >= p_gold THEN 'GOLD'
                             WHEN v_qualifying + v_points >= p_silver THEN 'SILVER' ELSE 'BRONZE' END;
        IF v_tier_after <> m.tier THEN
            UPDATE members m3 SET tier = v_tier_after, updated_at = now() WHERE m3.id = v_member AND m3.tier <> v_tier_after;
        END IF;
        INSERT INTO partner_purchases AS x (partner_id, external_id, member_id, amount_usd, tier, multiplier, points,
                                            ledger_entry_id, balance_after, tier_after, store_id, occurred_at)
        VALUES (p_partner, p_external_id, v_member, p_amount, v_tier, v_mult, v_points,
                v_entry, v_balance, v_tier_after, p_store, p_occurred)
        ON CONFLICT ON CONSTRAINT partner_purchases_natural_key DO NOTHING
        RETURNING x.id INTO pp;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'This external_id was already reported for a different purchase.'
                USING HINT = 'PURCHASE_CONFLICT';
        END IF;
        IF v_points > 0 THEN
            INSERT INTO outbox_events (event_type, aggregate_id, payload, request_id)
            VALUES ('PointsEarned', v_member,
                    jsonb_build_object('member_id', v_member, 'points', v_points, 'balance', v_balance,
                                       'tier', v_tier_after, 'previous_tier', m.tier, 'partner_id', p_partner,
                                       'external_id', p_external_id, 'amount_usd', p_amount_text,
                                       'ledger_entry_id', v_entry),
                    p_request_id);
        END IF;
    END IF;
    RETURN QUERY
    SELECT v_outcome, v_outcome = 'CREATED', x.id, x.partner_id, x.external_id, x.member_id, x.amount_usd, x.tier,
           x.multiplier, x.points, x.ledger_entry_id, x.balance_after, x.tier_after, x.store_id, x.occurred_at,
           x.created_at, l.id, l.entry_type, l.points, l.description, l.order_id, l.created_at
    FROM partner_purchases x LEFT JOIN ledger_entries l ON l.id = x.ledger_entry_id AND l.member_id = x.member_id
    WHERE x.partner_id = p_partner AND x.external_id = p_external_id;
END
$$;

-- POST /prod/reservations/{id}/purchase (ReservationService.purchase + ordering.order_from_hold):
-- Idempotency-Key claim, the hold HELD -> PURCHASED by its conditional UPDATE (so a purchase racing the
-- release job or a DELETE: exactly one wins), an order paid by the hold's debit (no new charge; the
-- unique payment_entry_id refuses a second order from one hold), OrderCreated, the order read back.
-- Outcomes: REPLAY, KEY_REUSED, RESERVATION_NOT_FOUND, NOT_PURCHASABLE (detail: EXPIRED / RELEASED /
-- PURCHASED), OK. Anything but OK is rolled back by the caller.
CREATE OR REPLACE FUNCTION proto_purchase_reservation(
    p_member uuid, p_reservation uuid, p_scope text, p_key text, p_hash text, p_retention interval,
    p_request_id text)
RETURNS TABLE (outcome text, detail text, replay_status integer, replay_body text, order_id uuid,
               total_points bigint, created_at timestamptz, updated_at timestamptz, history_at timestamptz,
               items jsonb)
LANGUAGE plpgsql
SET lock_timeout = '10s'
AS $$
DECLARE
    claim record;
    hold record;
    product record;
    v_status text;
    v_unit integer;
    v_total bigint;
    v_order uuid;
    v_created timestamptz;
    v_updated timestamptz;
    v_history timestamptz;
BEGIN
    SELECT * INTO claim FROM proto_idem_claim(p_scope, p_key, p_hash, p_retention);
    IF claim.outcome <> 'PROCEED' THEN
        RETURN QUERY SELECT claim.outcome, NULL::text, claim.status_code, claim.response_body, NULL::uuid,
                            NULL::bigint, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::jsonb;
        RETURN;
    END IF;
    UPDATE reservations r SET status = 'PURCHASED', updated_at = now()
    WHERE r.id = p_reservation AND r.member_id = p_member AND r.status = 'HELD' AND r.expires_at > now()
    RETURNING r.id, r.product_id, r.quantity, r.points, r.hold_entry_id INTO hold;
    IF NOT FOUND THEN
        SELECT r.status INTO v_status FROM reservations r WHERE r.id = p_reservation AND r.member_id = p_member;
        IF NOT FOUND THEN
            RETURN QUERY SELECT 'RESERVATION_NOT_FOUND'::text, NULL::text, NULL::integer, NULL::text, NULL::uuid,
                                NULL::bigint, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::jsonb;
        ELSE
            RETURN QUERY SELECT 'NOT_PURCHASABLE'::text, CASE WHEN v_status = 'HELD' THEN 'EXPIRED' ELSE v_status END,
                                NULL::integer, NULL::text, NULL::uuid, NULL::bigint, NULL::timestamptz,
                                NULL::timestamptz, NULL::timestamptz, NULL::jsonb;
        END IF;
        RETURN;
    END IF;
    SELECT p.id, p.name, p.description, p.image_url INTO product FROM products p WHERE p.id = hold.product_id;
    v_unit := hold.points / hold.quantity;
    v_total := hold.quantity::bigint * v_unit;
    INSERT INTO orders AS o (member_id, status, source, total_points, payment_entry_id)
    VALUES (p_member, 'PENDING', 'RESERVATION', v_total, hold.hold_entry_id)
    RETURNING o.id, o.created_at, o.updated_at INTO v_order, v_created, v_updated;
    INSERT INTO order_lines (order_id, product_id, product_name, description, image_url, quantity, unit_points_price)
    VALUES (v_order, product.id, product.name, product.description, product.image_url, hold.quantity, v_unit);
    INSERT INTO order_status_history AS h (order_id, status) VALUES (v_order, 'PENDING') RETURNING h.at INTO v_history;
    INSERT INTO outbox_events (event_type, aggregate_id, payload, request_id)
    VALUES ('OrderCreated', v_order,
            jsonb_build_object('order_id', v_order, 'member_id', p_member, 'total_points', v_total,
                               'items', jsonb_build_array(jsonb_build_object('item_id', product.id,
                                                                             'quantity', hold.quantity))),
            p_request_id);
    UPDATE reservations r SET order_id = v_order WHERE r.id = hold.id;
    RETURN QUERY SELECT 'OK'::text, NULL::text, NULL::integer, NULL::text, v_order, v_total, v_created, v_updated,
                        v_history,
                        jsonb_build_array(jsonb_build_object('item_id', product.id, 'name', product.name,
                                                             'quantity', hold.quantity, 'unit_points_price', v_unit));
END
$$;
