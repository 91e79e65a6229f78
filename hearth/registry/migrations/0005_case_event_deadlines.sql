-- 0005 the Awaab's Law deadline an event set, as columns (issue 5/7): reports read these
-- instead of parsing "due by ..." out of the event's text.
ALTER TABLE case_events ADD COLUMN due_by TEXT
    CHECK (due_by IS NULL OR due_by GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*Z');
ALTER TABLE case_events ADD COLUMN stage TEXT
    CHECK (stage IS NULL OR stage IN ('made_safe', 'investigate', 'written_summary',
                                      'safety_work'));

-- Events written before this migration carry the deadline in their text only:
--   opened: "<severity>: <reason> (due by <UTC time>, <stage>)"
--   stage:  "<done> done; next: <stage>[ due by <UTC time>]"
UPDATE case_events
   SET due_by = substr(detail, instr(detail, 'due by ') + 7, 20)
 WHERE instr(detail, 'due by ') > 0
   AND substr(detail, instr(detail, 'due by ') + 7, 20)
       GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z';

UPDATE case_events
   SET stage = rtrim(substr(detail, instr(detail, 'due by ') + 29), ')')
 WHERE action = 'opened' AND due_by IS NOT NULL
   AND rtrim(substr(detail, instr(detail, 'due by ') + 29), ')')
       IN ('made_safe', 'investigate', 'written_summary', 'safety_work');

UPDATE case_events
   SET stage = CASE WHEN instr(substr(detail, instr(detail, 'next: ') + 6), ' ') > 0
                    THEN substr(substr(detail, instr(detail, 'next: ') + 6), 1,
                                instr(substr(detail, instr(detail, 'next: ') + 6), ' ') - 1)
                    ELSE substr(detail, instr(detail, 'next: ') + 6) END
 WHERE action = 'stage' AND instr(detail, 'next: ') > 0
   AND (CASE WHEN instr(substr(detail, instr(detail, 'next: ') + 6), ' ') > 0
             THEN substr(substr(detail, instr(detail, 'next: ') + 6), 1,
                         instr(substr(detail, instr(detail, 'next: ') + 6), ' ') - 1)
             ELSE substr(detail, instr(detail, 'next: ') + 6) END)
       IN ('made_safe', 'investigate', 'written_summary', 'safety_work');

CREATE INDEX IF NOT EXISTS case_events_due ON case_events (due_by) WHERE due_by IS NOT NULL;
