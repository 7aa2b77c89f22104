"""Work that runs outside a request: the sync worker and backups."""
