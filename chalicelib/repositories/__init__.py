"""All SQL lives here. Each function takes a Tx, returns typed rows, and raises domain errors."""
