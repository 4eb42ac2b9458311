"""Formatting for people: tables, figures, paper values (never computes a metric)."""
