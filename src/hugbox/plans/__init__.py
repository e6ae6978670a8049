"""Plans: rate limits, inference allowances and quotas per account, set by the operator."""
