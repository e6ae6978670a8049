"""The outbox of repo changes: written in the transaction that makes the change, delivered to the
subscribers the wiring registers, by the job worker, at least once."""
