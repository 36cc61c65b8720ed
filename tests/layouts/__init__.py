"""The layout corpus: generated documents in the layouts units really send, and what each must be read as."""
