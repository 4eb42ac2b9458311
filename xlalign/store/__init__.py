"""What lives on disk: run folders, background jobs, exports."""
