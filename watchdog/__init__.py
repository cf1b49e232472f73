"""The watchdog: the HTTP front that forks a supervisor per request (SPEC section 4)."""
