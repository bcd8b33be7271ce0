"""In-memory interpreters of each service's filter semantics, traps included (used by tests and fake servers)."""
