"""Accounts: users and their passwords, signing in (with a password or single sign-on) and lock-out."""


class AuthError(Exception):
    """A sign-in or user change was refused; the message is safe to show."""
