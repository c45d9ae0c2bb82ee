"""The parity fixture itself: same replies from sonic and redis-server."""


def test_basic_parity(parity):
    """PING, SET, GET and an unknown command answer byte for byte as Redis."""
    parity(("PING",), ("SET", "a", "1"), ("GET", "a"), ("NOSUCH", "x"), ("GET",))
