"""Compilers from the query tree to each service's filter language."""
