"""Our signature check agrees with Twilio's own algorithm (twilio-python), for any URL and form."""

import string

from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from cintel_relay.webhooks.signature import _port_variants, compute_signature

TOKEN = "12345abcdef"
text = st.text(alphabet=string.ascii_letters + string.digits + " +-_%&=é☎", max_size=20)


@settings(max_examples=200, deadline=None)
@given(
    path=st.text(alphabet=string.ascii_letters + "/-_", max_size=30),
    params=st.lists(st.tuples(st.text(alphabet=string.ascii_letters, min_size=1, max_size=8), text), max_size=6),
)
def test_same_signature_as_twilio_python(path, params):
    url = f"https://relay.example.com/{path}"
    form = MultiDict(params)
    expected = RequestValidator(TOKEN).compute_signature(url, form)
    assert compute_signature(TOKEN.encode(), url, form) == expected


def test_sha256_variant_matches_twilio():
    url = "https://relay.example.com/webhook/status"
    form = {"CallSid": "CA1", "CallStatus": "ringing"}
    assert compute_signature(TOKEN.encode(), url, form, "HMAC_SHA256") == RequestValidator(TOKEN).compute_signature(
        url, form, "HMAC_SHA256"
    )


def test_port_variants():
    assert list(_port_variants("https://a.example/x?y=1")) == ["https://a.example/x?y=1", "https://a.example:443/x?y=1"]
    assert list(_port_variants("http://a.example:80/x")) == ["http://a.example:80/x", "http://a.example/x"]
