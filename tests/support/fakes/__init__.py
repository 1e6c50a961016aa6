"""Small HTTP servers that speak Twilio's APIs in the shapes of its published OpenAPI specs."""
