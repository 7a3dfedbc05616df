"""locvlm: serving stack, training recipe and evaluation for a spatially aware V-LLM."""

__version__ = "0.1.0"
