"""Webhooks: subscriptions, the events written to the outbox, and their delivery."""
