"""Storage: the provider interface, the plugin registry, and moving files in and out."""
