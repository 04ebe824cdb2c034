"""What every media watermark shares (payload framing, ECC, keyed patterns, statistics): later issues."""
