"""Models: the preset table, where models are on disk, and downloads into the Hugging Face cache."""
