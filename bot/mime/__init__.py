"""MIME as real clients write it: charsets, header words, file names and parts; read by both the sources and the intake."""
