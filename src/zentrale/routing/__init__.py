"""Routing: supervisors' YAML rules and the pure engine that decides where a call goes."""
