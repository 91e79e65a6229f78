-- PostgreSQL's 0010 (hearth/registry/migrate.py: this file replaces
-- ../0010_reference_figures_and_hazards.sql on PostgreSQL).
-- The reference tables and rows are the same. The new case kinds change the CHECK in place
-- (SQLite has to rebuild the table). The SQLite file's last part merges money-risk cases
-- opened before 0010 into one money case; a PostgreSQL registry has none to merge, since
-- Hearth runs on PostgreSQL only from migration 0012 on (a registry moved from SQLite is
-- copied at its latest version).
-- 0010 (issue 13): dated reference figures;
-- excess heat and money (one case for a home's money risks) as case kinds.
--
-- Ofgem's typical domestic consumption values and the energy price cap as rows with the day
-- each comes into force; the advisor takes, for each day, the row in force that day. These
-- are the rows of config/reference/*.csv (tests check the two agree); a council adds newer
-- rows with `hearth reference import FILE.csv`.
CREATE TABLE IF NOT EXISTS reference_tdcv (
    effective_from TEXT NOT NULL CHECK ((effective_from ~ '^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$')),
    profile        TEXT NOT NULL CHECK (profile IN ('electricity', 'economy7', 'gas')),
    kwh_per_year   DOUBLE PRECISION NOT NULL CHECK (kwh_per_year > 0),
    source         TEXT NOT NULL,
    PRIMARY KEY (effective_from, profile)
);

CREATE TABLE IF NOT EXISTS reference_price_cap (
    effective_from            TEXT NOT NULL CHECK ((effective_from ~ '^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$')),
    fuel                      TEXT NOT NULL CHECK (fuel IN ('electricity', 'gas')),
    payment_method            TEXT NOT NULL CHECK (payment_method IN ('direct_debit',
                                  'prepayment', 'standard_credit')),
    unit_rate_p_per_kwh       DOUBLE PRECISION NOT NULL CHECK (unit_rate_p_per_kwh > 0),
    standing_charge_p_per_day DOUBLE PRECISION NOT NULL CHECK (standing_charge_p_per_day > 0),
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
ALTER TABLE cases DROP CONSTRAINT cases_kind_check;
ALTER TABLE cases ADD CONSTRAINT cases_kind_check CHECK (kind IN ('bill_shock', 'credit_runout',
    'self_disconnection', 'self_rationing', 'cold_home', 'damp_mould',
    'fuel_poverty', 'device_fault', 'excess_heat', 'money'));
ALTER TABLE cases DROP CONSTRAINT cases_stage_check;
ALTER TABLE cases ADD CONSTRAINT cases_stage_check CHECK (stage IS NULL OR stage IN
    ('investigate', 'written_summary', 'safety_work', 'made_safe'));
CREATE INDEX IF NOT EXISTS cases_due ON cases (due_by) WHERE due_by IS NOT NULL;
