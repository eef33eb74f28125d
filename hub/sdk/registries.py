"""Typed registries that plugins fill from their `register_*` hooks: the generic
`Registry` and the concrete ones an application holds (channels, payment providers,
device drivers, alert sinks; the rule registry lives with the rule engine in
`hub.domain.rules`).

A built-in plugin registers with ``default=True``; anything else registered under the same
name replaces it, whatever the load order. Two non-default registrations of one name are a
configuration error that names both plugins.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from hub.contracts import ChannelAdapter, PaymentProvider
from hub.device_contracts import DriverFactory
from hub.sdk.alerts import AlertSink

T = TypeVar("T")


class RegistryError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Entry(Generic[T]):
    name: str
    obj: T
    source: str
    default: bool


class Registry(Generic[T]):
    kind = "thing"

    def __init__(self) -> None:
        self._entries: dict[str, Entry[T]] = {}
        self._source = "?"

    def _set_source(self, source: str) -> None:
        """Called by the plugin manager around each plugin's hook, to name owners."""
        self._source = source

    def add(self, name: str, obj: T, *, default: bool = False) -> None:
        old = self._entries.get(name)
        if old is not None:
            if default and not old.default:
                return  # a third-party override is already in place
            if not default and not old.default:
                raise RegistryError(
                    f"{self.kind} {name!r} registered twice: by {old.source} and {self._source}"
                )
        self._entries[name] = Entry(name, obj, self._source, default)

    def get(self, name: str) -> T:
        try:
            return self._entries[name].obj
        except KeyError:
            raise RegistryError(f"no {self.kind} named {name!r}") from None

    def find(self, name: str) -> T | None:
        entry = self._entries.get(name)
        return entry.obj if entry else None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def names(self) -> list[str]:
        return sorted(self._entries)


class ChannelRegistry(Registry[ChannelAdapter]):
    kind = "channel"


class PaymentProviderRegistry(Registry[PaymentProvider]):
    kind = "payment provider"


class DeviceDriverRegistry(Registry[DriverFactory]):
    """Vendor name → driver factory (a callable building a `DeviceDriver`)."""

    kind = "device driver"


class AlertSinkRegistry(Registry[AlertSink]):
    kind = "alert sink"
