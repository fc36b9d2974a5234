"""Operations: health and readiness, Prometheus metrics and `zentrale status`."""
