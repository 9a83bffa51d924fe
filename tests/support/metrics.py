"""Reading a /metrics page the way Prometheus does (prometheus-client's own parser), and comparing two scrapes."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, frozenset[tuple[str, str]]]


@dataclass(frozen=True)
class Scrape:
    text: str
    samples: dict[Key, float]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        samples: dict[Key, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return cls(text, samples)

    def value(self, name: str, **labels: str) -> float:
        """The sample with exactly these labels (0 when absent: a counter not yet incremented)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum over every sample of `name` carrying at least these labels."""
        wanted = set(labels.items())
        return sum(v for (n, lbls), v in self.samples.items() if n == name and wanted <= lbls)

    def label_values(self, label: str) -> set[str]:
        return {value for (_, lbls) in self.samples for key, value in lbls if key == label}

    def minus(self, before: Scrape, name: str, **labels: str) -> float:
        """How far `name` (summed over samples with these labels) moved since `before`."""
        return self.total(name, **labels) - before.total(name, **labels)
