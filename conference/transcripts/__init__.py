"""Transcripts: the store, live transcription of forks, summaries and agent event records."""
