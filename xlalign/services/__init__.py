"""Services the CLI and the app call: diagnoses (``Lab``), alignment runs, sweeps."""
