"""The aria2c backend: a supervised aria2c child driven over JSON-RPC (WebSocket)."""
