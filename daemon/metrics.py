"""Prometheus metrics of the process (prometheus-client), in one registry served at ``/metrics``.

Components count what happens as it happens (HTTP requests, retries, rate-limit waits,
downloads, processor latency); queue sizes are read from the store when scraped.
Units are in the names (``_seconds``, ``_bytes``), as Prometheus naming asks.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter("harvestd_http_requests", "HTTP requests sent, by host and status "
                        "(status 'error' = no response)", ["host", "status"], registry=REGISTRY)
HTTP_RETRIES = Counter("harvestd_http_retries", "HTTP requests retried, by host", ["host"],
                       registry=REGISTRY)
RATE_LIMIT_WAIT = Counter("harvestd_rate_limit_wait_seconds", "Time spent waiting for a host's "
                          "rate limit", ["host"], registry=REGISTRY)
DOWNLOADED_BYTES = Counter("harvestd_downloaded_bytes", "Bytes of files published to the library",
                           ["source"], registry=REGISTRY)
DOWNLOAD_FAILURES = Counter("harvestd_download_failures", "Downloads failed (final) or put back "
                            "for a retry, by error code", ["source", "error_code", "final"],
                            registry=REGISTRY)
PROCESSOR_SECONDS = Histogram("harvestd_processor_seconds", "Processor run time per image",
                              ["processor"], registry=REGISTRY,
                              buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
ITEMS = Gauge("harvestd_items", "Items by source and status (read at scrape)", ["source", "status"],
              registry=REGISTRY)
RESULTS = Gauge("harvestd_results", "Results by source, processor and status (read at scrape)",
                ["source", "processor", "status"], registry=REGISTRY)
DOWNLOADS_ACTIVE = Gauge("harvestd_downloads_active", "Downloads in flight", registry=REGISTRY)
LOOP_LAG = Gauge("harvestd_event_loop_lag_seconds", "How late a 1 s sleep woke up, last sample",
                 registry=REGISTRY)
NODE_SEEN = Gauge("harvestd_node_last_seen_seconds",
                  "Seconds since each node's last heartbeat (read at scrape)", ["node"], registry=REGISTRY)
NODE_LEASES = Gauge("harvestd_node_leases", "Leases each node holds now (read at scrape)", ["node", "kind"],
                    registry=REGISTRY)
ARIA2_RESTARTS = Gauge("harvestd_aria2_restarts", "Times aria2c was restarted since start",
                       registry=REGISTRY)
