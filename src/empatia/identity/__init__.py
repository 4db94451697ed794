"""Identity resolution: stitch every identifier into one person (S3)."""
