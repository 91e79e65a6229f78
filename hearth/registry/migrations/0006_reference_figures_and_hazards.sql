-- 0009 (issue 13; numbered 0006 on branch advice until merged): dated reference figures, and excess heat as a case kind.
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

-- Cases: add the kind 'excess_heat' (Awaab's Law phase 2; excess cold is the cold_home case).
-- SQLite cannot change a CHECK in place: the table is rebuilt (SQLite's documented
-- procedure; the migration runner turns foreign keys off while a migration runs and checks
-- them before it commits). case_events and sms_log name "cases", which the new table is.
CREATE TABLE cases_0009 (
    case_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    household_id  TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('bill_shock', 'credit_runout',
                      'self_disconnection', 'self_rationing', 'cold_home', 'damp_mould',
                      'fuel_poverty', 'device_fault', 'excess_heat')),
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
