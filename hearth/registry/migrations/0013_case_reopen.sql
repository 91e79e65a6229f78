-- 0013 (issue 15) a case the advisor opens again after an officer resolved or dismissed one of
-- the same kind for the same home links the earlier case and says why it came back (the
-- situation got worse than when it was closed, or the quiet period ended). advisor/reopen.py
-- decides; docs/advisor.md "Resolved cases stay closed" documents the rule.
ALTER TABLE cases ADD COLUMN reopened_from INTEGER REFERENCES cases (case_id);
ALTER TABLE cases ADD COLUMN reopen_reason TEXT;
CREATE INDEX IF NOT EXISTS cases_reopened_from ON cases (reopened_from)
    WHERE reopened_from IS NOT NULL;
