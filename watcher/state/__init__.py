"""Durable state behind one seam: run state, the event journal, sink cursors, dead letters."""
