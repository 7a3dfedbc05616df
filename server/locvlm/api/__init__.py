"""The REST API: app factory, settings, routes, image loading, metrics, security."""
