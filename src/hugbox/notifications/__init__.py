"""In-app notifications: short notes to a user (a decided access request, ...), with a link."""
