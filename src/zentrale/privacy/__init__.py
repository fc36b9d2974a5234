"""Data protection (KVKK/GDPR): retention, destruction records, legal holds, subject requests."""
