"""Test payloads of the other channels of a call's conversation (issue 10: a conversation grouped by
profile holds a call and the customer's texts at once)."""

from . import CONVERSATION, communication


def sms(comm_id: str, text: str, conversation: str = CONVERSATION) -> dict:
    """A customer's SMS in ``conversation``, as Conversation Orchestrator delivers it (TEXT content)."""
    body = communication(
        comm_id, text, speaker="customer", call_sid="SM" + "4" * 32, conversation=conversation, channel="SMS"
    )
    body["data"]["content"] = {"type": "TEXT", "text": text}
    return body
