"""What every capability shares: users and roles, the principal of a request, the audit log."""
