"""Customer records: who calls, in which language, VIP or not, and agents' notes on calls."""
