"""The browser shop: catalogue pages and the cart of a PunchOut session."""
