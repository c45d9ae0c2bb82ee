"""Every error reply sonic sends, as Redis 7.0 words it, and the exceptions that carry them.

Strings here include their error code (``ERR``, ``WRONGTYPE``...): the encoder
adds only the leading ``-``.  Keep them byte for byte equal to redis-server
7.0's (parity tests check them); clients such as redis-py map the code prefix
to exception classes, so even the first word matters.
"""

__all__ = ["CommandError", "ProtocolError"]


class CommandError(Exception):
    """A command failed; the client gets C{-<message>} and stays connected.

    @ivar message: the reply text without the leading C{-}, e.g.
        C{"ERR syntax error"}.
    """

    def __init__(self, message):
        Exception.__init__(self, message)
        self.message = message


class ProtocolError(Exception):
    """The client broke RESP framing; it gets C{-<message>} and is disconnected.

    @ivar commands: the commands that parsed completely before the error, which
        Redis still executes before answering the error.
    """

    def __init__(self, message, commands=()):
        Exception.__init__(self, message)
        self.message = message
        self.commands = list(commands)


# Generic
SYNTAX = "ERR syntax error"
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
NO_SUCH_KEY = "ERR no such key"
INDEX_OUT_OF_RANGE = "ERR index out of range"
OVERFLOW = "ERR increment or decrement would overflow"
INCR_NAN_OR_INF = "ERR increment would produce NaN or Infinity"
STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
OFFSET_OUT_OF_RANGE = "ERR offset is out of range"
INVALID_EXPIRE = "ERR invalid expire time in '%s' command"
DB_INDEX_OUT_OF_RANGE = "ERR DB index is out of range"
INVALID_DB_INDEX = "ERR invalid DB index"
SAME_OBJECT = "ERR source and destination objects are the same"
NOT_POSITIVE = "ERR value is out of range, must be positive"
UNKNOWN_COMMAND = "ERR unknown command '%s', with args beginning with: %s"
UNKNOWN_SUBCOMMAND = "ERR unknown subcommand '%s'. Try %s HELP."
WRONG_ARITY = "ERR wrong number of arguments for '%s' command"
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
AUTH_NOT_CONFIGURED = (
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?")
READONLY = "READONLY You can't write against a read only replica."
OOM = "OOM command not allowed when used memory > 'maxmemory'."
BUSYKEY = "BUSYKEY Target key name already exists."
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
TIMEOUT_NEGATIVE = "ERR timeout is negative"

# Transactions
MULTI_NESTED = "ERR MULTI calls can not be nested"
EXEC_WITHOUT_MULTI = "ERR EXEC without MULTI"
DISCARD_WITHOUT_MULTI = "ERR DISCARD without MULTI"
WATCH_IN_MULTI = "ERR WATCH inside MULTI is not allowed"
EXECABORT = "EXECABORT Transaction discarded because of previous errors."
NOT_IN_MULTI = "ERR Command not allowed inside a transaction"

# Protocol (framing): answered, then the connection is closed.
PROTO_TOO_BIG_INLINE = "ERR Protocol error: too big inline request"
PROTO_UNBALANCED_QUOTES = "ERR Protocol error: unbalanced quotes in request"
PROTO_TOO_BIG_MBULK = "ERR Protocol error: too big mbulk count string"
PROTO_INVALID_MBULK = "ERR Protocol error: invalid multibulk length"
PROTO_UNAUTH_MBULK = "ERR Protocol error: unauthenticated multibulk length"
PROTO_TOO_BIG_BULK = "ERR Protocol error: too big bulk count string"
PROTO_EXPECTED_DOLLAR = "ERR Protocol error: expected '$', got '%s'"
PROTO_INVALID_BULK = "ERR Protocol error: invalid bulk length"
PROTO_UNAUTH_BULK = "ERR Protocol error: unauthenticated bulk length"

# Keyspace commands (expire.c, db.c, object.c)
UNSUPPORTED_OPTION = "ERR Unsupported option %s"
EXPIRE_NX_INCOMPATIBLE = "ERR NX and XX, GT or LT options at the same time are not compatible"
EXPIRE_GT_LT_INCOMPATIBLE = "ERR GT and LT options at the same time are not compatible"
INVALID_CURSOR = "ERR invalid cursor"
INT_OUT_OF_RANGE = "ERR value is out of range, value must between -2147483648 and 2147483647"
INVALID_FIRST_DB = "ERR invalid first DB index"
INVALID_SECOND_DB = "ERR invalid second DB index"
OBJECT_NO_LFU = (
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
OBJECT_LFU_IDLETIME = (
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust.")


def wrong_arity(fullname):
    """The arity error for a command's lower-case full name (C{config|get})."""
    return CommandError(WRONG_ARITY % fullname)


def sanitize(text):
    """Replace CR and LF by spaces so user input cannot break reply framing (networking.c)."""
    return text.replace("\r", " ").replace("\n", " ")


# Strings (t_string.c)
DECREMENT_OVERFLOW = "ERR decrement would overflow"
LCS_NOT_STRINGS = "ERR The specified keys must contain string values"
LCS_IDX_AND_LEN = "ERR If you want both the length and indexes, please just use IDX."
LCS_TOO_LONG = "ERR String too long for LCS"
LCS_OVER_BULK_LEN = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
LCS_NO_MEMORY = "ERR Insufficient memory, failed allocating transient memory for LCS"

# Blocking commands (blocked.c, timeout.c)
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
TIMEOUT_NEGATIVE = "ERR timeout is negative"
UNBLOCKED = "UNBLOCKED client unblocked via CLIENT UNBLOCK"

# Sets and the sorted-set algebra (t_set.c, t_zset.c)
NUMKEYS_NOT_POSITIVE = "ERR numkeys should be greater than 0"
NUMKEYS_TOO_MANY = "ERR Number of keys can't be greater than number of args"
LIMIT_NEGATIVE = "ERR LIMIT can't be negative"
LONG_OUT_OF_RANGE = "ERR value is out of range, value must between %d and %d"
RANDOM_COUNT_TOO_BIG = "ERR count is out of range, a reply holds at most %d random members"
WEIGHT_NOT_FLOAT = "ERR weight value is not a float"
AT_LEAST_ONE_KEY = "ERR at least 1 input key is needed for '%s' command"

# Hashes (t_hash.c) and SORT (sort.c)
HASH_NOT_INTEGER = "ERR hash value is not an integer"
HASH_NOT_FLOAT = "ERR hash value is not a float"
NAN_OR_INFINITY = "ERR value is NaN or Infinity"
VALUE_OUT_OF_RANGE = "ERR value is out of range"
SORT_NOT_DOUBLE = "ERR One or more scores can't be converted into double"

# Lists (t_list.c)
COUNT_NEGATIVE = "ERR COUNT can't be negative"
MAXLEN_NEGATIVE = "ERR MAXLEN can't be negative"
COUNT_NOT_POSITIVE = "ERR count should be greater than 0"

# Sorted sets (t_zset.c)
ZADD_NX_XX = "ERR XX and NX options at the same time are not compatible"
ZADD_GT_LT_NX = "ERR GT, LT, and/or NX options at the same time are not compatible"
ZADD_INCR_PAIR = "ERR INCR option supports a single increment-element pair"
SCORE_NAN = "ERR resulting score is not a number (NaN)"
MINMAX_NOT_FLOAT = "ERR min or max is not a float"
MINMAX_NOT_LEX = "ERR min or max not valid string range item"
LIMIT_ONLY_BY = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
WITHSCORES_BYLEX = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"

# Replication, replica side (replication.c)
LOADING = "LOADING Redis is loading the dataset in memory"
MASTERDOWN = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
INVALID_MASTER_PORT = "ERR Invalid master port"

# RESTORE (cluster.c restoreCommand)
DUMP_PAYLOAD = "ERR DUMP payload version or checksum are wrong"
BAD_DATA_FORMAT = "ERR Bad data format"
INVALID_TTL = "ERR Invalid TTL value, must be >= 0"
INVALID_IDLETIME = "ERR Invalid IDLETIME value, must be >= 0"
INVALID_FREQ = "ERR Invalid FREQ value, must be >= 0 and <= 255"
MISCONF = ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
           "persist to disk. Commands that may modify the data set are disabled, because this "
           "instance is configured to report errors during writes if RDB snapshotting fails "
           "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about "
           "the RDB error.")

# Pub/Sub (server.c processCommand: the RESP2 subscribed context)
PUBSUB_CONTEXT = ("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                  "RESET are allowed in this context")

# Client-side caching (networking.c clientCommand, tracking.c)
TRACKING_ONE_REDIRECT = "ERR A client can only redirect to a single other client"
TRACKING_NO_REDIRECT_CLIENT = "ERR The client ID you want redirect to does not exist"
TRACKING_PREFIX_NEEDS_BCAST = "ERR PREFIX option requires BCAST mode to be enabled"
TRACKING_BCAST_SWITCH = ("ERR You can't switch BCAST mode on/off before disabling tracking for this "
                         "client, and then re-enabling it with a different mode.")
TRACKING_BCAST_OPTIN = "ERR OPTIN and OPTOUT are not compatible with BCAST"
TRACKING_OPTIN_OPTOUT = "ERR You can't specify both OPTIN mode and OPTOUT mode"
TRACKING_OPT_SWITCH = ("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this "
                       "client, and then re-enabling it with a different mode.")
TRACKING_PREFIX_EXISTING = ("ERR Prefix '%s' overlaps with an existing prefix '%s'. "
                            "Prefixes for a single client must not overlap.")
TRACKING_PREFIX_PROVIDED = ("ERR Prefix '%s' overlaps with another provided prefix '%s'. "
                            "Prefixes for a single client must not overlap.")
CACHING_NOT_TRACKING = ("ERR CLIENT CACHING can be called only when the client is in tracking mode "
                        "with OPTIN or OPTOUT mode enabled")
CACHING_YES_OPTIN = "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
CACHING_NO_OPTOUT = "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."

#: A failed AOF write or fsync (Redis' writeCommandsDeniedByDiskError, AOF case).
MISCONF_AOF = "MISCONF Errors writing to the AOF file: %s"
