"""Shared pieces of the reliability tools: processes seen through /proc, a
plain SMTP client, Maildir scanning and the control of a server under test.

Standard library only, so that the tools run on any machine with Python 3
(the peers' hosts included) without installing anything.
"""
