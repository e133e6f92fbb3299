"""Inbound mail: sources feed one pipeline of small steps (store, parse, classify, match, attach, apply)."""
