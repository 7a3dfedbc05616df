"""Serving logic per endpoint: request -> prompts -> engine -> parsed, pixel-space answer.

Independent of HTTP (the routes in `locvlm.api` stay thin) and of the engine kind.
"""
