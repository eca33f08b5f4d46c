"""Real servers for integration tests and the demo, started on free loopback ports."""
