"""Data package: Mailchimp's Marketing API OpenAPI document (see SOURCE.md)."""
