-- 0010 (issue 13): dated reference figures;
-- excess heat and money (one case for a home's money risks) as case kinds.
--
-- Ofgem's typical domestic consumption values and the energy price cap as rows with the day
-- each comes into force; the advisor takes, for each day, the row in force that day. These
-- are the rows of config/reference/*.csv (tests check the two agree); a council adds newer
-- rows with `hearth reference import FILE.csv`.
CREATE TABLE IF NOT EXISTS reference_tdcv (
    effective_from TEXT NOT NULL CHECK (effective_from GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    profile        TEXT NOT NULL CHECK (profile IN ('electricity', 'economy7', 'gas')),
    kwh_per_year   REAL NOT NULL CHECK (kwh_per_year > 0),
    source         TEXT NOT NULL,
    PRIMARY KEY (effective_from, profile)
);

CREATE TABLE IF NOT EXISTS reference_price_cap (
    effective_from            TEXT NOT NULL CHECK (effective_from GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    fuel                      TEXT NOT NULL CHECK (fuel IN ('electricity', 'gas')),
    payment_method            TEXT NOT NULL CHECK (payment_method IN ('direct_debit',
                                  'prepayment', 'standard_credit')),
    unit_rate_p_per_kwh       REAL NOT NULL CHECK (unit_rate_p_per_kwh > 0),
    standing_charge_p_per_day REAL NOT NULL CHECK (standing_charge_p_per_day > 0),
    source                    TEXT NOT NULL,
    PRIMARY KEY (effective_from, fuel, payment_method)
);

INSERT OR IGNORE INTO reference_tdcv (effective_from, profile, kwh_per_year, source) VALUES
    ('2020-04-01', 'electricity', 2700, 'Ofgem, Review of typical domestic consumption values 2020 (medium, profile class 1)'),
    ('2020-04-01', 'economy7', 3900, 'Ofgem, Review of typical domestic consumption values 2020 (medium, Economy 7)'),
    ('2020-04-01', 'gas', 11500, 'Ofgem, Review of typical domestic consumption values 2020 (medium)'),
    ('2026-07-01', 'electricity', 2500, 'Ofgem, typical domestic consumption values from 1 July 2026 (medium, profile class 1)'),
    ('2026-07-01', 'economy7', 3400, 'Ofgem, typical domestic consumption values from 1 July 2026 (medium, Economy 7)'),
    ('2026-07-01', 'gas', 9500, 'Ofgem, typical domestic consumption values from 1 July 2026 (medium)');

INSERT OR IGNORE INTO reference_price_cap (effective_from, fuel, payment_method,
        unit_rate_p_per_kwh, standing_charge_p_per_day, source) VALUES
    ('2026-07-01', 'electricity', 'direct_debit', 26.11, 57.19, 'Ofgem energy price cap 1 July - 30 September 2026, GB average, direct debit'),
    ('2026-07-01', 'gas', 'direct_debit', 7.33, 29.04, 'Ofgem energy price cap 1 July - 30 September 2026, GB average, direct debit');

-- Cases: add the kinds 'excess_heat' (Awaab's Law phase 2; excess cold is the cold_home case)
-- and 'money' (advisor/grouping.py: credit running out, bill shock and fuel poverty of one
-- home are one case with a reason each).
-- SQLite cannot change a CHECK in place: the table is rebuilt (SQLite's documented
-- procedure; the migration runner turns foreign keys off while a migration runs and checks
-- them before it commits). case_events and sms_log name "cases", which the new table is.
CREATE TABLE cases_0009 (
    case_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    household_id  TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('bill_shock', 'credit_runout',
                      'self_disconnection', 'self_rationing', 'cold_home', 'damp_mould',
                      'fuel_poverty', 'device_fault', 'excess_heat', 'money')),
    severity      TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'emergency')),
    score         REAL NOT NULL CHECK (score >= 0 AND score <= 100),
    reasons       TEXT NOT NULL,
    evidence_json TEXT NOT NULL DEFAULT '{}',
    opened_at     TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    due_by        TEXT,                       -- UTC ISO; Awaab's Law clock for hazards
    stage         TEXT CHECK (stage IS NULL OR stage IN ('investigate', 'written_summary',
                      'safety_work', 'made_safe')),
    status        TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged',
                      'resolved', 'dismissed')),
    officer       TEXT,
    clear_since   TEXT,
    closed_at     TEXT,
    close_reason  TEXT
);
INSERT INTO cases_0009 SELECT * FROM cases;
DROP TABLE cases;
ALTER TABLE cases_0009 RENAME TO cases;
CREATE UNIQUE INDEX IF NOT EXISTS cases_one_open
    ON cases (household_id, kind) WHERE status IN ('open', 'acknowledged');
CREATE INDEX IF NOT EXISTS cases_status ON cases (status, severity);
CREATE INDEX IF NOT EXISTS cases_household ON cases (household_id);
CREATE INDEX IF NOT EXISTS cases_due ON cases (due_by) WHERE due_by IS NOT NULL;

-- Open money-risk cases become one money case per home: the worst severity and score, the
-- reasons joined (most urgent first), the numbers under each risk's prefix with
-- `<risk>.fired`, the earliest opening, acknowledged only if all were. Tips already sent for
-- them count for the money case (one tip per case); the old cases close as merged.
CREATE TEMP TABLE money_0009 AS
SELECT c.household_id,
       CASE MAX(CASE c.severity WHEN 'emergency' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2
                ELSE 1 END)
            WHEN 4 THEN 'emergency' WHEN 3 THEN 'high' WHEN 2 THEN 'medium' ELSE 'low' END
           AS severity,
       MAX(c.score) AS score,
       MIN(c.opened_at) AS opened_at,
       MAX(c.updated_at) AS updated_at,
       MAX(c.status) AS status,
       MAX(c.officer) AS officer
  FROM cases c
 WHERE c.kind IN ('credit_runout', 'bill_shock', 'fuel_poverty')
   AND c.status IN ('open', 'acknowledged')
 GROUP BY c.household_id;

INSERT INTO cases (household_id, kind, severity, score, reasons, evidence_json, opened_at,
                   updated_at, status, officer)
SELECT m.household_id, 'money', m.severity, m.score,
       (SELECT group_concat(label || reasons, ' | ') FROM (
            SELECT CASE o.kind WHEN 'credit_runout' THEN 'Credit: ' WHEN 'bill_shock'
                   THEN 'Bill: ' ELSE 'Fuel poverty: ' END AS label, o.reasons,
                   CASE o.kind WHEN 'credit_runout' THEN 0 WHEN 'bill_shock' THEN 1 ELSE 2 END
                       AS rank
              FROM cases o
             WHERE o.household_id = m.household_id AND o.status IN ('open', 'acknowledged')
               AND o.kind IN ('credit_runout', 'bill_shock', 'fuel_poverty')
             ORDER BY rank)),
       (SELECT json_group_object(o.kind || '.' || j.key, j.value)
          FROM cases o, json_each(json_patch(o.evidence_json, '{"fired": true}')) j
         WHERE o.household_id = m.household_id AND o.status IN ('open', 'acknowledged')
           AND o.kind IN ('credit_runout', 'bill_shock', 'fuel_poverty')),
       m.opened_at, m.updated_at, m.status, m.officer
  FROM money_0009 m;

UPDATE sms_log SET case_id = (SELECT n.case_id FROM cases n, cases o
                               WHERE o.case_id = sms_log.case_id AND n.kind = 'money'
                                 AND n.household_id = o.household_id
                                 AND n.status IN ('open', 'acknowledged'))
 WHERE case_id IN (SELECT case_id FROM cases WHERE kind IN ('credit_runout', 'bill_shock',
                   'fuel_poverty') AND status IN ('open', 'acknowledged'));

INSERT INTO case_events (case_id, at, actor, action, detail)
SELECT n.case_id, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'advisor', 'opened',
       n.severity || ': merged from the open money cases (migration 0010): ' || n.reasons
  FROM cases n WHERE n.kind = 'money' AND n.status IN ('open', 'acknowledged');

INSERT INTO case_events (case_id, at, actor, action, detail)
SELECT o.case_id, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'advisor', 'auto_closed',
       'closed: merged into money case ' || n.case_id
  FROM cases o JOIN cases n ON n.household_id = o.household_id AND n.kind = 'money'
       AND n.status IN ('open', 'acknowledged')
 WHERE o.kind IN ('credit_runout', 'bill_shock', 'fuel_poverty')
   AND o.status IN ('open', 'acknowledged');

UPDATE cases SET status = 'resolved', closed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'),
       updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'),
       close_reason = 'merged into money case ' || (SELECT n.case_id FROM cases n
                      WHERE n.household_id = cases.household_id AND n.kind = 'money'
                        AND n.status IN ('open', 'acknowledged'))
 WHERE kind IN ('credit_runout', 'bill_shock', 'fuel_poverty')
   AND status IN ('open', 'acknowledged');

DROP TABLE money_0009;
