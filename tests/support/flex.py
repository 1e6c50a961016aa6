"""Settings of a relay that authenticates streams with Flex tokens, against the fake Twilio."""

TICKET_SECRET = "ticket-secret-for-tests-0123456789abcdef"


def flex_env(twilio_url: str, **extra) -> dict:
    """The settings of a relay in ``flex`` stream-auth mode that asks the fake Twilio at ``twilio_url``."""
    from .fakes.twilio import ACCOUNT_SID, WORKSPACE_SID

    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "CINTEL_TICKET_SECRET": TICKET_SECRET,
        "CINTEL_TASKROUTER_WORKSPACE_SID": WORKSPACE_SID,
        "CINTEL_IAM_URL": twilio_url,
        "SERVER_URL": "http://localhost",
        "CINTEL_TASKROUTER_URL": twilio_url,
        "CINTEL_AUTH_TIMEOUT": "0.5",
        "CINTEL_MAX_STREAMS_PER_IDENTITY": "2",
        "CINTEL_TICKETS_PER_MINUTE": "5",
        **extra,
    }
