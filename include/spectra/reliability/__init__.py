"""Reliability shared by the services: circuit breakers whose state every process sees.

Sits below the services (apply, agent) and above warehouse/ads/observability: the breaker's
storage is Redis when configured, else the warehouse.
"""
