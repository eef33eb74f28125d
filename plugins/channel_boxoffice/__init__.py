"""Box office and kiosks: the venue's own counter, as a channel plugin.

Found through the ``tickethub`` entry point like any third-party plugin; it uses only the
public API (`hub.sdk` and `hub.domain`), so removing this folder removes the box office and
nothing else.
"""

from __future__ import annotations

from hub.sdk import ChannelRegistry, hookimpl
from plugins.channel_boxoffice.adapter import BoxOfficeChannel

__version__ = "0.1.0"


@hookimpl
def register_channels(registry: ChannelRegistry) -> None:
    registry.add(BoxOfficeChannel.name, BoxOfficeChannel(), default=True)
