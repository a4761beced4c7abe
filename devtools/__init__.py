"""Developer tooling: embedded database, emulated AWS, local runner. Never deployed."""
