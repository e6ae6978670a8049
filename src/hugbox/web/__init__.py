"""Server-rendered pages: layout, templates, static files, browser sessions and CSRF."""
