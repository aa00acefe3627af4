"""Serving: the composite customer-profile model, the model server, batch scoring and the CRM client.

Depends on ``training`` (never on ``monitoring``). Modules import heavy libraries themselves, so
``import serving`` stays cheap.
"""
