"""The proposal agent: the LLM ranks, explains and writes copy; deterministic code decides.

``service.propose_account`` turns one account's day of evidence and envelopes (written by
``spectra.analytics``) into validated proposals. Settings are plain values (``settings``); no
Airflow here (``spectra.airflow.hooks.GeminiHook`` builds the client from a connection).
"""
