"""Usage: storage accounting and quotas, download counters, trending, the admin view."""
