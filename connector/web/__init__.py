"""The daemon's ASGI side: CRM notification callbacks, health (and later webhooks, metrics, status)."""
