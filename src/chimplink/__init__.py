"""chimplink: a Mailchimp integration, and a faithful local Mailchimp emulator."""

__version__ = "0.1.0"
