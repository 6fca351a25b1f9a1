"""Hourly monitors: spend limits, policy disapprovals and anomalies; alerts and notifiers."""
