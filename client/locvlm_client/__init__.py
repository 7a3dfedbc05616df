"""Python SDK of locvlm: the wire types the server speaks (and, later, its clients).

The package depends only on httpx and pydantic; it never imports the server, torch
or vllm, so it installs anywhere.
"""

from locvlm_client._box import Box, ImageSize, SizeLike, as_size

__all__ = ["Box", "ImageSize", "SizeLike", "as_size"]
__version__ = "0.1.0"
