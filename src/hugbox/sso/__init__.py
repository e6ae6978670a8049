"""Single sign-on for organisations: an org's own OpenID Connect provider signs its members in."""
