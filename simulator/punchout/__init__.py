"""PunchOut: the setup request, shopping sessions, the cart and the message that returns it."""
