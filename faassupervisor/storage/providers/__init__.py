"""Built-in storage providers, one module each, registered as entry points in setup.cfg."""
