"""The media pipeline: renditions, loudness, waveforms and the quality report of each
track, computed once, at ingest."""
