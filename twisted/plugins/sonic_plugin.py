"""twistd plugin: C{twistd -n sonic --port 6379} runs a sonic server."""

from twisted.application.service import ServiceMaker

sonic = ServiceMaker(
    "sonic",
    "sonic.tap",
    "A Redis-compatible data server on Twisted.",
    "sonic",
)
