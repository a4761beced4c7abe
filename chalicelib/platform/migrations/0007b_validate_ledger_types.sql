-- The ledger type and sign checks of 0007a, validated in their own transaction: VALIDATE CONSTRAINT
-- scans the ledger under SHARE UPDATE EXCLUSIVE, so inserts (purchases, spends) go on meanwhile.
ALTER TABLE ledger_entries VALIDATE CONSTRAINT ledger_entries_entry_type_check;
ALTER TABLE ledger_entries VALIDATE CONSTRAINT ledger_sign;
