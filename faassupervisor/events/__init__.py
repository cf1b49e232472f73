"""Events: what one invocation carries in (a request body or a storage event)."""
