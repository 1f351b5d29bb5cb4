"""Local protocol-level fakes of the cloud pricing APIs, served on 127.0.0.1 for the real SDKs."""
