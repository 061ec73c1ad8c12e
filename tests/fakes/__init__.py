"""Local stand-ins for OpenAI, driven by the real openai SDK in tests and benchmarks."""
