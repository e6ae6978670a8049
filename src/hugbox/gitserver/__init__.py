"""Plain git and git-lfs access to the repos (smart HTTP)."""
