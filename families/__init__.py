"""Built-in family declarations (TOML files shipped as package data)."""
