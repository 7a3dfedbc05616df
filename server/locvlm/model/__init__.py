"""Model configs, tokenizer and export in the layout vLLM loads."""
