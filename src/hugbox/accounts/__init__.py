"""Account pages that join accounts (auth) with the repos they own."""
