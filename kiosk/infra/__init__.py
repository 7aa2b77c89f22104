"""Plumbing every room may use: server-side sessions, security headers, i18n, the keyring, the
instance secrets, logging, the catalog's binding to the app."""
