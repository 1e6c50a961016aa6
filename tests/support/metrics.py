"""Scraping a relay's ``/metrics``."""

import requests

METRICS_TOKEN = "test-metrics-token-0123456789"


def scrape(base: str, token: str = METRICS_TOKEN) -> dict:
    """``GET /metrics`` parsed: {(sample name, frozenset of label items): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    response = requests.get(base + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert response.status_code == 200, response.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def metric(samples: dict, name: str, **labels) -> float:
    """One sample's value from :func:`scrape`, 0 when absent."""
    return samples.get((name, frozenset(labels.items())), 0.0)
