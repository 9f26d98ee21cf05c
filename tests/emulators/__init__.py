"""Local emulators of the chat platforms' HTTP APIs, for tests that drive the real SDK clients."""
