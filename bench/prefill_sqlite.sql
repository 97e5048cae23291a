-- Pre-fills an irp-server SQLite database (schema version 2) with @n devices,
-- each with one installed certificate and its two audit events (enroll,
-- install), the way @n real enrollments would leave it. Run it while the
-- server is stopped:
--
--   sqlite3 irp.db ".parameter set @n 1000000" ".parameter set @issuer 'ISSUER_ID'" \
--                  ".parameter set @prefix 'pre'" ".read bench/prefill_sqlite.sql"
--
-- @issuer is the domain CA's identifier (the `issuer` column of any row the
-- server wrote; hex of the CA's subject key identifier). Serials are random
-- 128-bit values with the top bit clear, like the server's 127-bit serials;
-- the certificate DER is a random blob of a real certificate's size (~680
-- bytes), so the table and its indexes have realistic sizes and a random key
-- order. Device ids are @prefix-0000001 ... (they must not collide with the
-- benchmark's).
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;      -- bulk load; the server reopens with synchronous=FULL
PRAGMA cache_size = -1048576;  -- 1 GiB: random serials make the index inserts random
BEGIN;
CREATE TEMP TABLE pre(i INTEGER PRIMARY KEY, serial TEXT NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @n)
INSERT INTO pre(i, serial)
SELECT i, printf('%02x', abs(random()) % 128) || lower(hex(randomblob(15))) FROM n;
INSERT INTO devices(device_id, class_id, first_seen, last_seen)
SELECT printf('%s-%07d', @prefix, i), 'default', 1700000000 + i / 10, 1700000000 + i / 10 FROM pre;
INSERT INTO certificates(issuer, serial, device_id, class_id, der, not_before, not_after, issued_at, status,
                         install_status, replaces, replaced_by, public_key_sha256)
SELECT @issuer, serial, printf('%s-%07d', @prefix, i), 'default', randomblob(680 + abs(random()) % 8),
       1700000000 + i / 10 - 300, 1700000000 + i / 10 + 31536000, 1700000000 + i / 10, 2, 0, '', '',
       lower(hex(randomblob(32)))
FROM pre;
INSERT INTO audit(at, actor, action, device_id, serial, peer, detail)
SELECT 1700000000 + i / 10, 'device:' || printf('%s-%07d', @prefix, i), a.action, printf('%s-%07d', @prefix, i),
       serial, '127.0.0.1:40000', CASE a.action WHEN 'enroll' THEN 'request=' || lower(hex(randomblob(8)))
                                                ELSE 'status=0/installed' END
FROM pre, (SELECT 'enroll' AS action UNION ALL SELECT 'install') AS a
ORDER BY pre.i, a.action;  -- enroll before install
DROP TABLE pre;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SELECT 'prefilled: ' || (SELECT count(*) FROM devices) || ' devices, ' || (SELECT count(*) FROM certificates) ||
       ' certificates, ' || (SELECT count(*) FROM audit) || ' audit events';
