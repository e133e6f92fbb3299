"""Texts coming in from Twilio: the request must carry Twilio's own signature for our URL."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, request

bp = Blueprint("sms_webhook", __name__)
log = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@bp.post("/sms/twilio")
def twilio_inbound():
    """Record an inbound text (STOP/START honoured) after validating X-Twilio-Signature."""
    from twilio.request_validator import RequestValidator
    from models.sms import receive
    settings = current_app.config["IXDESK"]
    if settings.sms_backend != "twilio":
        abort(404)
    # Twilio signs the URL it was given: ours as configured, not what a proxy in front rewrote it to.
    url = settings.base_url.rstrip("/") + request.full_path.rstrip("?")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not RequestValidator(settings.twilio_auth_token).validate(url, request.form.to_dict(), signature):
        log.warning("refused an SMS webhook with a bad signature from %s", request.remote_addr)
        abort(403, "signature does not match")
    receive(request.form.get("From", ""), request.form.get("Body", ""), request.form.get("MessageSid"))
    return Response(EMPTY_TWIML, mimetype="text/xml")
