"""tremplin."""
