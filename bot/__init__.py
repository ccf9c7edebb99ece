"""The conversation engine: who is talking, which session, what to say next.

Imports no Flask and no provider SDK: it takes an `InboundMessage` and returns `Reply`
values, so every conversation is testable without HTTP.
"""
