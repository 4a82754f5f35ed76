"""SMS through Twilio: the outbound text and reply codes (`outbound`), the reply webhook (`inbound`), and the
Redis keys both use (`keys`)."""
