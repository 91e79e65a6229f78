"""The tenants' room: their data rights (rights.py, `hearth tenant ...`) and their portal."""
