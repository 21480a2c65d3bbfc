"""rokka's own vocabulary: metadata and hashes, search queries, the JSON of its API."""
